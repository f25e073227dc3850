

def test_new_and_show(qms, complaint):
    assert complaint == "CMP-2026-0001"
    r = qms("complaint", "show", complaint, "--json")
    assert r.code == 0, r.text
    assert '"state": "received"' in r.out
