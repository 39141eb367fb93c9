"""The signed 换班记录表 kept with an approved swap: uploaded through the console (Flask client),
checked by content and size, stored in the hub store with its sha256, shown to leads and
managers; SWAP-UNAPPROVED still reads the approved swap (the record), as before."""

from __future__ import annotations

import hashlib
import io
import shutil

import pytest

from hub.roster.forms import MAX_BYTES
from hub.site import example_site_dir
from hub.store.derived import DerivedStore
from hub.store.rosters import RosterStore
from tests.conftest import issue_test_token

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


@pytest.fixture
def app(tmp_path):
    from kiosk_ui import create_app

    root = shutil.copytree(example_site_dir(), tmp_path / "site")
    return create_app({"TESTING": True, "DATABASE": str(tmp_path / "hub.db"), "SITE_DIR": str(root)})


def _client(app, role: str, **user):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_test_token(app, role, **user)}"
    return c


def _upload(client, data: bytes, name: str = "form.pdf", **fields: str):
    body = {"date": "2026-11-26", "shift": "night", "employee_no": "10001"} | fields
    body["form"] = (io.BytesIO(data), name)
    return client.post("/console/roster/swap-form", data=body, content_type="multipart/form-data")


def _store(app):
    from kiosk_ui import state

    with app.app_context():
        return state.store()


def test_a_signed_form_is_kept_with_its_swap_and_shown_to_leads(app):
    lead = _client(app, "lead")  # leads T1: 10001 and 10041
    assert lead.get("/console/roster/month.json?month=2026-11").status_code == 200
    # no approved swap yet: the form has nothing to belong to
    r = _upload(lead, PDF)
    assert r.status_code == 400 and r.json["field"] == "employee_no" and "approve the swap first" in r.json["reason"]
    r = lead.post("/console/roster/override", json={"kind": "swap", "date": "2026-11-26", "shift": "night",
                                                   "employee_no": "10001", "to_employee_no": "10041"})
    assert r.status_code == 200, r.json
    r = _upload(lead, PDF, "换班记录表.pdf")
    assert r.status_code == 200, r.json
    sha = hashlib.sha256(PDF).hexdigest()
    assert (r.json["sha256"], r.json["media_type"], r.json["size"]) == (sha, "application/pdf", len(PDF))
    store = _store(app)
    kept = RosterStore(store).swap_form(sha)
    assert (kept["date"], kept["shift"], kept["from_employee_no"], bytes(kept["data"])) == (
        "2026-11-26", "night", "10001", PDF)
    assert hashlib.sha256(bytes(kept["data"])).hexdigest() == kept["sha256"]
    audit = DerivedStore(store).audit_rows(1)[0]
    assert (audit["action"], audit["target"], audit["details"]["sha256"], audit["details"]["to"]) == (
        "roster.swap_form", "10001", sha, "10041")
    # the grid shows it on both agents' duty; leads and admins download it as uploaded
    cells = {a["employee_no"]: a["cells"] for a in lead.get("/console/roster/month.json?month=2026-11").json["agents"]}
    for emp in ("10001", "10041"):
        forms = [f for d in cells[emp]["2026-11-26"]["duties"] for f in d.get("forms", [])]
        assert [f["sha256"] for f in forms] == [sha]
    for who in (lead, _client(app, "admin")):
        got = who.get(f"/console/roster/swap-form/{sha}?download=1")
        assert got.status_code == 200 and got.data == PDF and got.mimetype == "application/pdf"
        assert "attachment" in got.headers["Content-Disposition"]
    # not the floor's facilities staff, nor a lead of another team
    assert _client(app, "facilities").get(f"/console/roster/swap-form/{sha}").status_code == 403
    other = _client(app, "lead", teams=["T2"])
    assert other.get(f"/console/roster/swap-form/{sha}").status_code == 403
    assert _upload(other, JPEG, "x.jpg").status_code == 403
    assert lead.get(f"/console/roster/swap-form/{'0' * 64}").status_code == 404
    # a photo of the same form is kept too (a second scan of one swap)
    r = _upload(lead, JPEG, "photo.jpg")
    assert r.status_code == 200 and r.json["media_type"] == "image/jpeg"
    assert len(RosterStore(store).swap_forms(["2026-11-26"])) == 2


@pytest.mark.parametrize(("data", "name", "why"), [
    (b"", "empty.pdf", "the file is empty"),
    (b"MZ\x90\x00 this is an exe renamed", "form.pdf", "not a PDF, JPEG, PNG, WebP or HEIC"),
    (b"<html>%PDF-1.4</html>", "form.pdf", "not a PDF, JPEG, PNG, WebP or HEIC"),
    (b"%PDF-" + b"0" * MAX_BYTES, "big.pdf", "more than 10 MiB"),
])
def test_an_upload_that_is_not_a_form_is_refused_with_the_reason_and_nothing_kept(app, data, name, why):
    lead = _client(app, "lead")
    lead.get("/console/roster/month.json?month=2026-11")
    assert lead.post("/console/roster/override", json={
        "kind": "swap", "date": "2026-11-26", "shift": "night", "employee_no": "10001",
        "to_employee_no": "10041"}).status_code == 200
    r = _upload(lead, data, name)
    assert r.status_code == 400 and r.json["field"] == "form" and why in r.json["reason"], r.json
    r = _upload(lead, PDF, shift="dawn")
    assert r.status_code == 400 and r.json["field"] == "shift"
    assert RosterStore(_store(app)).swap_forms(["2026-11-26"]) == []
