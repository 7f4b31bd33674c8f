"""APCO common incident type codes (the EIDO incident type registry values) <-> categories."""

from __future__ import annotations

from safecity.core.payloads import CallCategory

C = CallCategory

_GROUPS: dict[CallCategory, frozenset[str]] = {
    C.SHOOTING: frozenset({"SHOOT"}),
    C.ASSAULT: frozenset(
        {"ASSAULT", "FIGHT", "STABBING", "HOMICIDE", "DVA", "DVNA", "SEXOFFNS", "HOSTAGE"}
    ),
    C.ROBBERY: frozenset({"ROBBERY", "CARJACK", "ALRROBA", "ALRROBS"}),
    C.BURGLARY: frozenset({"BURGLARY", "ALRBA", "ALRBS", "FORCENTR"}),
    C.THEFT: frozenset({"LARCENY", "SHOPLIFT", "VEHSTLN", "PROPSTLN"}),
    C.FIRE: frozenset(
        {
            "FAIRC",
            "FAPT",
            "FARSON",
            "FBRUSH",
            "FELEC",
            "FFUEL",
            "FMARINE",
            "FOTHER",
            "FREPORT",
            "FSMOKE",
            "FSTRU",
            "FTRAILER",
            "FTRAIN",
            "FTRASH",
            "FTRUCK",
            "FUNK",
            "FVEH",
            "ALRF",
            "ALRHEAT",
            "EXPLOS",
        }
    ),
    C.MEDICAL: frozenset(
        {
            "ABDOM",
            "ALLERGIC",
            "ALS",
            "BLS",
            "BLEEDING",
            "BURN",
            "CARDIAC",
            "CHESPAIN",
            "CHOKE",
            "DIABETIC",
            "DROWN",
            "EYE",
            "FALL",
            "HEADACHE",
            "HEMRG",
            "OD",
            "PREG",
            "RESP",
            "SEIZURE",
            "SICK",
            "STROKE",
            "TRAUMA",
            "TRAUMAP",
            "PERUNCON",
            "ALRMED",
            "ALRDEFIB",
            "MCI",
        }
    ),
    C.TRAFFIC: frozenset(
        {"MVA", "MVAHR", "MVAINJY", "MVAUNK", "DISVEH", "RECKDRV", "DUI", "VEHASST", "PURSUIT"}
    ),
    C.DISTURBANCE: frozenset(
        {"CIVDIS", "DISORD", "NOISE", "HARR", "THREATS", "TROUBLE", "CURFEW", "INTOX"}
    ),
}

APCO_CATEGORY: dict[str, CallCategory] = {
    code: category for category, codes in _GROUPS.items() for code in codes
}

#: Words in a free incident type text, for codes outside the registry (checked in order).
KEYWORDS: tuple[tuple[tuple[str, ...], CallCategory], ...] = (
    (("shoot", "shots", "gunfire"), C.SHOOTING),
    (("fire", "smoke", "explosion"), C.FIRE),
    (("robbery", "holdup"), C.ROBBERY),
    (("burglar", "break-in"), C.BURGLARY),
    (("theft", "larceny", "stolen"), C.THEFT),
    (("assault", "stabbing", "fight", "homicide"), C.ASSAULT),
    (("medical", "cardiac", "injur", "unconscious", "breathing"), C.MEDICAL),
    (("collision", "crash", "accident", "traffic"), C.TRAFFIC),
    (("disturbance", "unrest", "disorder", "riot", "noise"), C.DISTURBANCE),
)

#: What this platform writes for each of its incident types: APCO code, and the category.
INCIDENT_TYPE_CODE: dict[str, str] = {
    "shooting": "SHOOT",
    "fire": "FUNK",
    "violence": "ASSAULT",
    "help_request": "ASSIST",
    "medical": "SICK",
    "traffic": "MVA",
    "crowd": "CIVDIS",
    "public_order": "DISORD",
    "property_crime": "LARCENY",
    "noise": "NOISE",
    "infrastructure": "PUBWKS",
    "waste_collection": "PUBWKS",
    "external_alert": "INFO",
}


def category_of(code: str | None, text: str | None) -> CallCategory | None:
    """The category of an incident type code (APCO) or, failing that, of its text."""
    if code:
        found = APCO_CATEGORY.get(code.strip().upper())
        if found is not None:
            return found
    for words in (text, code):
        if words:
            lowered = words.lower()
            for keys, category in KEYWORDS:
                if any(k in lowered for k in keys):
                    return category
    return None
