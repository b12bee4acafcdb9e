"""The wearable band: built-in UV while worn, refused once taken off."""

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin

BAND_AAGUID = "9b7493dde22e4369bbdf25177d6eb596"


def test_band_uv_while_worn_and_refused_once_taken_off(band):
    ctap2 = band.ctap2()
    info = ctap2.info
    assert info.aaguid.hex() == BAND_AAGUID
    # A band needs a PIN before built-in UV can be enrolled and used.
    ClientPin(ctap2).set_pin("13571357")
    band.control("wear")
    assert band.control("enrol-finger").endswith("Enrolled")
    info = ctap2.get_info()
    assert info.options.get("uv") is True
    pin = ClientPin(ctap2)
    token = pin.get_uv_token(ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    assert len(token) == 32
    band.control("take-off")
    with pytest.raises(CtapError):
        pin.get_uv_token(ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    # Back on the wrist: UV works again, and the PIN still does too.
    band.control("wear")
    pin.get_uv_token(ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    pin.get_pin_token("13571357", ClientPin.PERMISSION.GET_ASSERTION, "example.com")
