"""SM2: snowland-smx (what the daemon uses) against gmssl, both directions, both byte orders,
before trusting either (stack-notes.md); and the gmssl traps that decided the choice."""

from __future__ import annotations

import pytest
from gmssl import sm2 as gm_sm2
from pysmx.SM2 import Decrypt, Encrypt, generate_keypair

from evaluator.province import sm2
from evaluator.province.errors import CryptoError
from tests.province.fake_platform import gm_decrypt

MESSAGE = '[{"projectNo":"37ZJ-1-00001","serviceNumber":1,"satisfaction":"2","name":"王小明"}]'.encode()
GM_MODE = {"c1c3c2": 1, "c1c2c3": 0}


@pytest.fixture(scope="module")
def keys():
    kp = generate_keypair()
    return kp.publicKey.hex(), kp.privateKey.hex()


@pytest.mark.parametrize("mode", sm2.MODES)
def test_ours_decrypts_with_gmssl_and_gmssl_decrypts_with_snowland(keys, mode):
    pub, priv = keys
    ours = sm2.encrypt(pub, MESSAGE, mode)
    assert ours.startswith("04") and len(ours) == 2 + 128 + 64 + 2 * len(MESSAGE)
    assert gm_decrypt(priv, ours, mode) == MESSAGE  # gmssl's arithmetic, SM3 and KDF, C3 checked
    g = gm_sm2.CryptSM2(private_key=priv, public_key=pub, mode=GM_MODE[mode])
    assert g.decrypt(bytes.fromhex(ours[2:])) == MESSAGE  # gmssl's own decrypt
    theirs = g.encrypt(MESSAGE)
    assert Decrypt(theirs, priv, 64, mode=mode.upper()) == MESSAGE
    # the two orders are really different: the wrong one fails the C3 check
    other = "c1c2c3" if mode == "c1c3c2" else "c1c3c2"
    with pytest.raises(ValueError):
        gm_decrypt(priv, ours, other)
    assert Decrypt(theirs, priv, 64, mode=other.upper()) is None


def test_a_damaged_ciphertext_is_refused_by_snowland_but_not_by_gmssl(keys):
    pub, priv = keys
    c = bytearray(Encrypt(MESSAGE, pub, 64, mode="C1C3C2"))
    c[-1] ^= 1  # one bit of C2
    assert Decrypt(bytes(c), priv, 64, mode="C1C3C2") is None
    g = gm_sm2.CryptSM2(private_key=priv, public_key=pub, mode=1)
    assert g.decrypt(bytes(c)) != MESSAGE  # gmssl hands back garbage without a word: C3 never compared


def test_gmssl_strips_more_than_the_04_of_a_public_key():
    """`public_key.lstrip("04")`: with the 04 prefix, an x that starts with 0 or 4 loses digits and
    gmssl encrypts to a wrong point. snowland takes the key as given."""
    while True:
        kp = generate_keypair()
        pub, priv = kp.publicKey.hex(), kp.privateKey.hex()
        if pub[0] in "04":
            break
    try:
        broken = gm_sm2.CryptSM2(private_key=priv, public_key="04" + pub, mode=1).encrypt(MESSAGE)
    except TypeError:  # the shortened key is not even a point: gmssl's arithmetic falls over
        broken = None
    assert broken is None or Decrypt(broken, priv, 64, mode="C1C3C2") is None
    assert gm_decrypt(priv, sm2.encrypt(sm2.parse_public_key("04" + pub), MESSAGE), "c1c3c2") == MESSAGE


def test_gmssl_draws_its_nonce_from_a_mersenne_twister():
    import random

    from gmssl import func

    assert func.choice is random.choice  # not `secrets`: a predictable k reveals the plaintext


def test_public_keys_off_the_curve_or_malformed_are_refused(keys):
    pub, _ = keys
    assert sm2.parse_public_key("04" + pub.upper()) == pub
    assert sm2.parse_public_key(pub) == pub
    off_curve = "04" + pub[:-2] + format(int(pub[-2:], 16) ^ 1, "02x")
    for bad in ("", "04", "05" + pub, pub[:-1], off_curve, "zz" * 64):
        with pytest.raises(CryptoError):
            sm2.parse_public_key(bad)
