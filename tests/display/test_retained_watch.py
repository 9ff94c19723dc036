"""RetainedWatch alone: its own echoes (in order, some lost), snapshots and strangers' messages."""

from display.retained_watch import RetainedWatch

LED = "queued/main/window/3/led"


def test_own_echoes_are_never_overwrites_even_when_some_are_lost():
    w = RetainedWatch("queued/main")
    for p in (b"a", b"b", b"c"):
        w.sent(LED, p)
    assert w.heard(LED, b"b", False) is None  # "a" was lost on the way
    assert w.heard(LED, b"c", False) is None
    assert w.heard(LED, b"c", False) is None  # a repeat of what we say now
    assert w.total == 0 and not w.pending[LED]


def test_a_strangers_message_is_an_overwrite_of_its_kind():
    w = RetainedWatch("queued/main")
    w.sent(LED, b"ours")
    w.sent(LED + "/gbk", b"ours")
    w.sent("queued/main/status", b"online")
    assert w.heard(LED, b"forged", False) == "led"
    assert w.heard(LED + "/gbk", b"forged", False) == "led_gbk"
    assert w.heard("queued/main/status", b"offline", False) == "status"
    assert w.total == 3 and w.last_topic == "queued/main/status"


def test_snapshots_and_topics_not_yet_spoken_on_are_not_judged():
    w = RetainedWatch("queued/main")
    assert w.heard(LED, b"old", True) is None  # the broker's snapshot at subscribe time
    assert w.heard(LED, b"old", False) is None  # we have said nothing there on this connection
    w.sent(LED, b"new")
    assert w.heard(LED, b"older", True) is None
    w.reset()
    assert w.heard(LED, b"forged", False) is None
    assert w.kind("queued/main/window/3/led/raw") is None and w.kind("other/main/board") is None


def test_over_mqtt5_nothing_is_awaited_and_a_strangers_message_is_still_an_overwrite():
    w = RetainedWatch("q/main")
    w.reset(echoes=False)  # No Local: the broker never sends our own publishes back
    w.sent("q/main/window/1/led", b"ours")
    assert w.pending == {}
    assert w.heard("q/main/window/1/led", b"ours", retained=False) is None  # the same text: harmless
    assert w.heard("q/main/window/1/led", b"forged", retained=False) == "led"


def test_a_broker_that_refuses_mqtt5_is_recognised():
    from aiomqtt.exceptions import MqttConnectError
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    from display.publisher import refuses_v5

    assert refuses_v5(MqttConnectError(ReasonCode(PacketTypes.CONNACK, identifier=0x84)))
    assert refuses_v5(MqttConnectError(1))  # a 3.1.1 broker's "unacceptable protocol version"
    assert not refuses_v5(MqttConnectError(ReasonCode(PacketTypes.CONNACK, identifier=0x86)))  # bad password
    assert not refuses_v5(OSError("refused"))
