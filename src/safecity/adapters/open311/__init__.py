"""Open311 GeoReport v2: citizen service requests in, request status out."""
