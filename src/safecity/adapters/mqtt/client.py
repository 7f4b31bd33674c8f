"""A paho client set up from the instance's settings (credentials, TLS); paho stays in here."""

from __future__ import annotations

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from safecity.adapters.mqtt.config import MqttConfig


def new_client(
    config: MqttConfig, *, client_id: str, clean_session: bool = True, manual_ack: bool = False
) -> paho.Client:
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=paho.MQTTv311,
        manual_ack=manual_ack,
    )
    if config.username is not None:
        password = config.password
        client.username_pw_set(config.username, password.get_secret_value() if password else None)
    tls = config.tls
    if tls is not None:
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.cert_file) if tls.cert_file else None,
            keyfile=str(tls.key_file) if tls.key_file else None,
        )
        client.tls_insecure_set(tls.insecure)
    return client
