"""Operations services: units and shifts, dispatch, procedures, channels, automations, KPIs."""
