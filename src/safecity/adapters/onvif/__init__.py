"""ONVIF events: WS-BaseNotification XML and the onvif-ej JSON form mapped to camera events."""
