"""The OpenAPI document is valid OpenAPI 3.1 and says what the server does: every example
request in it, and a request to every documented operation, is sent to a real server, and each
answer must have a documented status and match that status's schema. Schemas are checked
strictly: an object may hold only the properties its schema names."""

import copy
import json
import re
import time

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

import harness


@pytest.fixture(scope="module")
def doc(server):
    status, _, d = server.request("GET", "/openapi.json")
    assert status == 200
    return d


def parts_of_objects(doc):
    """Names of the schemas some `allOf` uses as one part of an object."""
    names = set()

    def walk(node):
        if isinstance(node, dict):
            for part in node.get("allOf", []):
                ref = part.get("$ref", "") if isinstance(part, dict) else ""
                if ref.startswith("#/components/schemas/"):
                    names.add(ref.rsplit("/", 1)[1])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    return names


def strict(schema, part=False):
    """The schema with `unevaluatedProperties: false` on every object that lists properties (or
    is made of parts) and says nothing of others: an answer may hold only documented fields.
    A part of an `allOf` is left open; the whole it is part of is closed."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k == "allOf":
            out[k] = [strict(s, part=True) for s in v]
        elif k in ("properties", "patternProperties"):
            out[k] = {name: strict(s) for name, s in v.items()}
        else:
            out[k] = strict(v)
    is_object = "properties" in out or "allOf" in out
    if is_object and not part and not {"additionalProperties", "unevaluatedProperties"} & set(out):
        out["unevaluatedProperties"] = False
    return out


def strict_components(doc):
    parts = parts_of_objects(doc)
    schemas = doc["components"]["schemas"]
    return {
        **doc["components"],
        "schemas": {name: strict(s, part=name in parts) for name, s in schemas.items()},
    }


class Contract:
    def __init__(self, doc):
        self.doc = doc
        self.components = {"components": strict_components(copy.deepcopy(doc))}
        self.checked = set()

    def operation(self, method, template):
        op = self.doc["paths"].get(template, {}).get(method.lower())
        assert op is not None, f"{method} {template} is not documented"
        return op

    def check(self, method, template, status, headers, body):
        """Asserts that the answer is documented and matches its schema."""
        op = self.operation(method, template)
        responses = op["responses"]
        assert str(status) in responses, (
            f"{method} {template} answered {status}, documented: {sorted(responses)}: {body}"
        )
        for name in responses[str(status)].get("headers", {}):
            assert headers.get(name), f"{method} {template} {status}: no {name} header"
        content = responses[str(status)].get("content", {})
        ctype = (headers.get("Content-Type") or "").split(";")[0]
        if "application/json" in content:
            assert ctype == "application/json", ctype
            schema = strict(copy.deepcopy(content["application/json"]["schema"]))
            validator = OAS31Validator({**schema, **self.components})
            errors = sorted(validator.iter_errors(body), key=str)
            assert not errors, f"{method} {template} {status}: {errors[0]}\n{json.dumps(body)[:2000]}"
        else:
            assert ctype in content or not content, f"{ctype} not in {list(content)}"
        self.checked.add((method.lower(), template))


@pytest.fixture(scope="module")
def contract(doc):
    return Contract(doc)


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate_spec(doc)


def test_every_response_documents_the_request_id(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                assert "X-Request-Id" in response.get("headers", {}), (method, path, status)


def test_the_request_id_is_echoed_or_made(server):
    status, headers, _ = server.request("GET", "/healthz", headers={"X-Request-Id": "trace-42"})
    assert status == 200 and headers["X-Request-Id"] == "trace-42"
    # Not a plausible id (a space): replaced by a new one.
    _, headers, _ = server.request("GET", "/healthz", headers={"X-Request-Id": "a b"})
    made = headers["X-Request-Id"]
    assert made != "a b" and len(made) == 36, made
    _, again, _ = server.request("GET", "/no/such/route")
    assert again["X-Request-Id"] not in ("", made)


def test_list_filters_are_query_parameters(doc):
    for path in ("/v1/decisions", "/v1/reviews"):
        params = doc["paths"][path]["get"]["parameters"]
        assert params and all(p["in"] == "query" and not p.get("required") for p in params), params


def examples(doc):
    """Every (method, path, content type, example) of a request body in the document."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody", {}) if isinstance(op, dict) else {}
            for ctype, media in body.get("content", {}).items():
                found = []
                if "example" in media:
                    found.append(media["example"])
                found += [e["value"] for e in media.get("examples", {}).values()]
                for example in found:
                    yield method, path, ctype, example


def test_every_example_request_is_answered_as_documented(server, doc, contract):
    found = list(examples(doc))
    with_examples = {p for _, p, _, _ in found}
    for path in ("/v1/clips/check", "/v1/prompts/check", "/v1/persons", "/v1/reviews/{decision_id}", "/v1/audits"):
        assert path in with_examples, (path, with_examples)
    # A decision awaiting review, for the review example.
    _, _, review = server.request(
        "POST", "/v1/prompts/check", {"prompt": "a cat in the style of Collins", "user": "bob"}
    )
    assert review["action"] == "review", review
    values = {"{id}": str(server.collins), "{decision_id}": review["id"]}
    for method, path, ctype, example in found:
        assert ctype == "application/json", (path, ctype)
        concrete = path
        for name, value in values.items():
            concrete = concrete.replace(name, value)
        status, headers, body = server.request(method.upper(), concrete, example)
        contract.check(method, path, status, headers, body)
        assert status < 300, (path, example, body)
    # The README's pre-publish examples: the clip in S3 is allowed, the prompt blocked.
    status, _, d = server.request(
        "POST", "/v1/clips/check", {"uri": "s3://clips/gen-42.mp4", "user": "bob", "clip_id": "gen-42"}
    )
    assert (status, d["action"], d["clip_id"]) == (200, "allow", "gen-42"), d
    assert d["attestation"]["statement"]["decision_id"] == d["id"]
    status, _, d = server.request(
        "POST", "/v1/prompts/check", {"prompt": "Eileen Collins on the moon", "user": "bob"}
    )
    assert (status, d["action"]) == (200, "block"), d


def test_every_operation_answers_as_documented(server, doc, contract, clips):
    collins = server.collins
    clip = harness.astronaut_zoom(90, clips / "astronaut-zoom-3s.mp4")
    form, form_type = harness.multipart({"metadata": json.dumps({"user": "bob"})}, {"file": clip})

    def send(method, template, path=None, body=None, raw=None):
        path = path or template
        if raw is not None:
            status, headers, answer = server.raw(method, path, raw[0], raw[1])
        else:
            status, headers, answer = server.request(method, path, body)
        contract.check(method, template, status, headers, answer)
        return status, answer

    status, blocked = send("POST", "/v1/clips/check", raw=(form, form_type))
    assert (status, blocked["action"]) == (200, "block"), blocked
    status, full = send("POST", "/v1/clips/check", "/v1/clips/check?view=full", raw=(form, form_type))
    assert full["decision"]["action"] == "block" and full["clip"]["frames"], full.keys()
    status, review = send("POST", "/v1/prompts/check", body={"prompt": "a cat in the style of Collins", "user": "bob"})
    assert status == 200
    for view in ("", "?view=full"):
        send("GET", "/v1/decisions/{id}", f"/v1/decisions/{blocked['id']}{view}")
        send("GET", "/v1/decisions", f"/v1/decisions?limit=2{view and '&view=full'}")
        send("GET", "/v1/reviews", f"/v1/reviews?limit=2{view and '&view=full'}")
    send("GET", "/v1/decisions/{id}", "/v1/decisions/nope")
    # Asynchronous: 202 at once, then the check's state, and the decision once made.
    queued_form = harness.multipart({"metadata": json.dumps({"user": "bob", "async": True})}, {"file": clip})
    status, queued = send("POST", "/v1/clips/check", raw=queued_form)
    assert status == 202 and queued["state"] == "queued", queued
    send("GET", "/v1/checks/{id}", f"/v1/checks/{queued['id']}")
    deadline = time.monotonic() + 120
    while True:
        status, answer = send("GET", "/v1/decisions/{id}", f"/v1/decisions/{queued['id']}")
        if status != 202 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (status, answer["action"], answer["id"]) == (200, "block", queued["id"]), answer
    status, checked = send("GET", "/v1/checks/{id}", f"/v1/checks/{queued['id']}")
    assert checked["state"] == "decided" and checked["decision"]["id"] == queued["id"], checked
    send("GET", "/v1/checks/{id}", "/v1/checks/nope")
    # Callbacks are off on this server: a callback URL is refused.
    status, refused = send("POST", "/v1/clips/check",
                           body={"uri": "s3://clips/gen-42.mp4", "callback_url": "https://example.com/hook"})
    assert (status, refused["error"]["code"]) == (403, "forbidden_callback"), refused
    send("GET", "/v1/decisions", "/v1/decisions?since=yesterday")
    send("GET", "/v1/decisions/{id}/evidence/{n}", f"/v1/decisions/{blocked['id']}/evidence/0")
    queue = server.request("GET", "/v1/reviews")[2]["decisions"]
    if queue:
        send("POST", "/v1/reviews/{decision_id}", f"/v1/reviews/{queue[0]['id']}",
             {"outcome": "reject", "note": "contract test"})
    send("POST", "/v1/reviews/{decision_id}", f"/v1/reviews/{blocked['id']}",
         {"outcome": "approve", "note": ""})
    send("GET", "/v1/persons")
    send("GET", "/v1/persons/{id}", f"/v1/persons/{collins}")
    send("PUT", "/v1/persons/{id}/consents/{user}", f"/v1/persons/{collins}/consents/carol")
    send("DELETE", "/v1/persons/{id}/consents/{user}", f"/v1/persons/{collins}/consents/carol")
    status, other = send("POST", "/v1/persons", body={"name": "Jane Placeholder"})
    send("DELETE", "/v1/persons/{id}", f"/v1/persons/{other['id']}")
    send("POST", "/v1/persons/{id}/faces", f"/v1/persons/{collins}/faces",
         raw=harness.multipart({}, {"image": harness.testdata("coffee.png")}))
    send("POST", "/v1/persons/{id}/voices", f"/v1/persons/{collins}/voices",
         raw=harness.multipart({}, {"file": harness.testdata("coffee.png")}))
    examples = [("example", harness.testdata(n)) for n in ("coffee.png", "chelsea.png", "rocket.jpg")]
    send("POST", "/v1/categories",
         raw=harness.multipart({"name": "contract", "description": "contract test"}, examples))
    send("POST", "/v1/categories", raw=harness.multipart({"name": "contract"}, examples))
    send("POST", "/v1/categories", raw=harness.multipart({"name": "too_few"}, examples[:2]))
    status, listed = send("GET", "/v1/categories")
    assert [c["name"] for c in listed["categories"]] == ["contract"] and listed["version"], listed
    send("GET", "/v1/categories/{name}", "/v1/categories/contract")
    send("DELETE", "/v1/categories/{name}", "/v1/categories/contract")
    send("GET", "/v1/categories/{name}", "/v1/categories/contract")
    betting = {"name": "contract_betting", "severity": 1, "description": "contract test",
               "examples": ["bet on a horse race", "apostar en el casino", "play poker for money"],
               "counter_examples": ["a horse in a field"]}
    send("POST", "/v1/text-categories", body=betting)
    send("POST", "/v1/text-categories", body=betting)
    status, refused = send("POST", "/v1/text-categories", body={**betting, "name": "too_few", "examples": ["one"]})
    assert refused["error"]["message"].startswith("examples:"), refused
    status, listed = send("GET", "/v1/text-categories")
    assert listed["version"] and any(
        c["name"] == "contract_betting" and c["source"] == "admin" for c in listed["categories"]), listed
    send("GET", "/v1/text-categories/{name}", "/v1/text-categories/contract_betting")
    send("DELETE", "/v1/text-categories/{name}", "/v1/text-categories/contract_betting")
    send("DELETE", "/v1/text-categories/{name}", "/v1/text-categories/contract_betting")
    send("GET", "/v1/text-categories/{name}", "/v1/text-categories/contract_betting")
    status, bank = send("POST", "/v1/banks", body={"name": "contract", "source": "tests", "action": "review"})
    send("POST", "/v1/banks", body={"name": "contract", "source": "tests", "action": "review"})
    hashes = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,100,bridge\n"
    status, added = send("POST", "/v1/banks/{name}/hashes", "/v1/banks/contract/hashes", raw=(hashes.encode(), "text/plain"))
    assert (status, added["added"]) == (200, 1), added
    status, bad = send("POST", "/v1/banks/{name}/hashes", "/v1/banks/contract/hashes", raw=(b"f8f8\n", "text/plain"))
    assert (status, bad["error"]["code"]) == (422, "invalid_bank") and "line 1" in bad["error"]["message"], bad
    status, added = send("POST", "/v1/banks/{name}/decisions", "/v1/banks/contract/decisions", body={"decision_id": blocked["id"]})
    assert status == 200 and added["added"] > 0, added
    send("POST", "/v1/banks/{name}/decisions", "/v1/banks/contract/decisions", body={"decision_id": "nope"})
    status, banks = send("GET", "/v1/banks")
    assert any(b["name"] == "contract" and b["items"] == 3 for b in banks), banks  # bridge, the decision, its centres
    send("DELETE", "/v1/banks/{name}", "/v1/banks/contract")
    send("DELETE", "/v1/banks/{name}", "/v1/banks/contract")
    status, key = send("GET", "/v1/attestations/key")
    allowed = server.request("POST", "/v1/clips/check", {"uri": "s3://clips/gen-42.mp4"})[2]
    send("POST", "/v1/attestations/verify",
         body={"attestation": allowed["attestation"], "clip_sha256": allowed["clip_sha256"]})
    send("POST", "/v1/attestations/verify",
         body={"attestation": allowed["attestation"], "clip_sha256": "0" * 64})
    # Content Credentials for the allowed clip (the bytes put in S3), then for the blocked one.
    gen42 = clips / "gen-42.mp4"
    status, credentialed = send(
        "POST", "/v1/decisions/{id}/credentialed", f"/v1/decisions/{allowed['id']}/credentialed",
        raw=harness.multipart({"generator": "Sora 2"}, {"file": gen42}))
    assert status == 200 and len(credentialed) > gen42.stat().st_size, status
    status, _ = send(
        "POST", "/v1/decisions/{id}/credentialed", f"/v1/decisions/{blocked['id']}/credentialed",
        raw=harness.multipart({}, {"file": clip}))
    assert status == 409
    signed = clips / "gen-42-credentialed.mp4"
    signed.write_bytes(credentialed)
    status, verified = send("POST", "/v1/attestations/verify", raw=harness.multipart({}, {"file": signed}))
    assert verified["valid"] and verified["credentials"]["state"] == "trusted", verified
    status, audit = send("POST", "/v1/audits", body={"sources": [str(clips)]})
    send("GET", "/v1/audits/{id}", f"/v1/audits/{audit['id']}")
    send("GET", "/v1/audits/{id}/report", f"/v1/audits/{audit['id']}/report")
    send("POST", "/v1/policies/reload")
    send("GET", "/v1/dashboard")
    send("GET", "/v1/dashboard/decisions", f"/v1/dashboard/decisions?action=block&q={blocked['clip_sha256'][:12]}")
    send("GET", "/v1/dashboard/decisions", "/v1/dashboard/decisions?since=yesterday")
    send("GET", "/v1/dashboard/decisions/{id}", f"/v1/dashboard/decisions/{blocked['id']}")
    send("GET", "/v1/dashboard/decisions/{id}", "/v1/dashboard/decisions/nope")
    for path in ("/healthz", "/readyz", "/metrics"):
        send("GET", path)
    # Errors, each as documented.
    send("POST", "/v1/prompts/check", body={"prompt": "x", "promt": "y"})
    send("POST", "/v1/clips/check", body={"uri": "ftp://example.com/a.mp4"})
    send("POST", "/v1/clips/check", raw=(b"hello", "text/plain"))
    documented = {
        (m, p) for p, item in doc["paths"].items() for m in item if m in ("get", "post", "put", "delete")
    }
    assert documented - contract.checked == set(), "operations never tried"


@pytest.mark.parametrize(
    "method,path,body,status,code",
    [
        ("POST", "/v1/prompts/check", {"prompt": "x", "promt": "y"}, 400, "unknown_field"),
        ("POST", "/v1/prompts/check", {}, 400, "missing_field"),
        ("POST", "/v1/clips/check", {"uri": "s3://clips/gen-42.mp4", "size": 1}, 400, "unknown_field"),
        ("GET", "/v1/decisions?since=2026-11-25", None, 400, "invalid_query"),
        ("GET", "/v1/decisions?cursor=nope", None, 400, "invalid_query"),
        ("GET", "/v1/decisions?limit=0", None, 400, "invalid_query"),
        ("GET", "/v1/decisions?sort=asc", None, 400, "invalid_query"),
        ("DELETE", "/v1/decisions/abc", None, 405, "method_not_allowed"),
        ("GET", "/v1/prompts/check", None, 405, "method_not_allowed"),
        ("GET", "/v1/nothing", None, 404, "not_found"),
    ],
)
def test_bad_requests_get_their_documented_codes(server, method, path, body, status, code):
    got, headers, answer = server.request(method, path, body)
    assert (got, answer["error"]["code"]) == (status, code), answer
    if status == 405:
        assert headers["Allow"], headers
    message = answer["error"]["message"]
    assert not re.search(r"\b(Some|None|Block|Allow|Review|Full|Surname)\b", message), message


def test_unknown_multipart_field_and_empty_upload_match_the_json_codes(server, clips):
    clip = harness.still_clip("coffee.png", 2, clips / "gen-42.mp4")
    status, _, answer = server.raw("POST", "/v1/clips/check", *harness.multipart({"meta": "{}"}, {"file": clip}))
    assert (status, answer["error"]["code"]) == (400, "unknown_field"), answer
    empty = clips / "empty.mp4"
    empty.write_bytes(b"")
    status, _, answer = server.raw("POST", "/v1/clips/check", *harness.multipart({}, {"file": empty}))
    assert (status, answer["error"]["code"]) == (422, "empty"), answer


def test_s3_without_credentials_is_a_documented_502(tmp_path, s3):
    env = {k: v for k, v in s3.env.items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    srv = harness.Server({**env, "AWS_EC2_METADATA_DISABLED": "true"})
    try:
        status, _, answer = srv.request("POST", "/v1/clips/check", {"uri": "s3://clips/gen-42.mp4"})
    finally:
        srv.stop()
    assert (status, answer["error"]["code"]) == (502, "object_store"), answer

