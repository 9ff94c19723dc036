async def test_issue_and_call(api, tokens):
    r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["kiosk"])
    assert r.status_code == 201, r.text
    assert r.json()["number"] == "A001"
    r = await api.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])
    assert r.status_code == 200
    assert r.json()["ticket"]["number"] == "A001"
    assert r.json()["window"]["clerk"] == "1001"
