import json
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
problem = {"description": "A problem (RFC 9457) with a stable code", "content": {"application/problem+json": {"schema": ref("Problem")}}}
def ok(schema, desc="OK", status="200"):
    return {status: {"description": desc, "content": {"application/json": {"schema": schema}}}}
def errs(*codes):
    return {str(c): problem for c in codes}
def param(name, where="path", schema=None, desc="", required=None):
    return {"name": name, "in": where, "required": where == "path" if required is None else required,
            "schema": schema or {"type": "string"}, "description": desc}
hex64 = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
party_id = {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,62}[a-z0-9]$"}
cadastral = {"type": "string", "pattern": "^[0-9]{2}-[0-9]{3}-[0-9]{3}-[0-9]{1,6}(:[0-9]{1,6})?$"}
cn = param("cadastralNumber", schema=cadastral, desc="e.g. 01-001-001-1")
auth = [{"bearer": []}, {"accessCode": []}]
session = [{"bearer": []}]
height = param("height", "query", {"type": "integer", "minimum": 1}, "the state that block's header names (the state after the block before it); default: the latest")
limit = param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100})
after = param("after", "query", {"type": "string", "pattern": "^[0-9]{1,19}[.][0-9]{1,9}[.][0-9]{1,9}$"}, "the `next` of the previous page")
paths = {
 "/v1/status": {"get": {"summary": "Where the chain and this node stand", "responses": {**ok(ref("Status")), **errs(500)}}},
 "/v1/transactions": {"post": {"summary": "Submit a signed envelope", "parameters": [
     param("wait", "query", {"type": "string", "enum": ["commit"]}, "answer once the transaction is final"),
     param("Idempotency-Key", "header", {"type": "string", "maxLength": 255})],
   "requestBody": {"required": True, "content": {"application/json": {"schema": ref("Envelope")}}},
   "responses": {**ok(ref("TransactionStatus"), "Final (with wait=commit)"), **ok(ref("TransactionStatus"), "In the mempool", "202"),
                 **errs(400, 409, 413, 422, 503, 504, 500)}}},
 "/v1/transactions/{id}": {"get": {"summary": "A transaction's status and height; its receipt for a session of its signer, of a party it names, or of an authority",
   "security": [{}, {"bearer": []}], "parameters": [param("id", schema=hex64)],
   "responses": {**ok(ref("TransactionStatus")), **errs(400, 401, 404, 503, 500)}}},
 "/v1/blocks": {"get": {"summary": "A page of blocks", "parameters": [param("from", "query", {"type": "integer", "minimum": 1}), limit],
   "responses": {**ok({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": ref("Block")}, "next": {"type": "string"}}}), **errs(400, 500)}}},
 "/v1/blocks/{height}": {"get": {"summary": "One block", "parameters": [param("height", schema={"type": "integer", "minimum": 1})],
   "responses": {**ok(ref("Block")), **errs(400, 404, 500)}}},
 "/v1/offers": {"get": {"summary": "Properties listed for sale now (public)", "parameters": [param("after", "query", cadastral, "the `next` of the previous page"), limit],
   "responses": {**ok({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": ref("Offer")}, "next": {"type": "string"}}}), **errs(400, 500)}}},
 "/v1/parties/{id}": {"get": {"summary": "The public part of a party", "parameters": [param("id", schema=party_id)],
   "responses": {**ok(ref("PartyPublic")), **errs(400, 404, 500)}}},
 "/v1/parties/{id}/properties": {"get": {"summary": "A party's properties (its own session)", "security": session, "parameters": [param("id", schema=party_id)],
   "responses": {**ok({"type": "object", "required": ["party", "properties"], "properties": {"party": {"type": "string"}, "properties": {"type": "array", "items": {"type": "string"}}}}), **errs(400, 401, 403, 500)}}},
 "/v1/parties/{id}/account": {"get": {"summary": "A party's token account (its own session)", "security": session, "parameters": [param("id", schema=party_id)],
   "responses": {**ok({"type": "object", "required": ["party", "balance", "held"], "properties": {"party": {"type": "string"}, "balance": {"type": "integer"}, "held": {"type": "integer"}}}), **errs(400, 401, 403, 500)}}},
 "/v1/parties/{id}/notifications": {"get": {"summary": "Events naming the party and reads of its passports by others (its own session)", "security": session,
   "parameters": [param("id", schema=party_id), after, limit],
   "responses": {**ok({"type": "object", "required": ["events", "passportReads"], "properties": {"events": {"type": "array", "items": ref("Event")}, "next": {"type": "string"},
       "passportReads": {"type": "array", "items": {"type": "object", "required": ["cadastralNumber", "reader", "at"], "properties": {"cadastralNumber": {"type": "string"}, "reader": {"type": "string"}, "at": {"type": "integer"}}}}}}), **errs(400, 401, 403, 500)}}},
 "/v1/properties/{cadastralNumber}/encumbrances": {"get": {"summary": "The public encumbrance check", "parameters": [cn],
   "responses": {**ok(ref("Encumbrances")), **errs(400, 404, 500)}}},
 "/v1/properties/{cadastralNumber}": {"get": {"summary": "The passport (access code, or a session of an owner or an authority)", "security": auth, "parameters": [cn, height],
   "responses": {**ok(ref("Passport")), **errs(400, 401, 403, 404, 500)}}},
 "/v1/properties/{cadastralNumber}/history": {"get": {"summary": "Every event that named the property", "security": auth, "parameters": [cn, after, limit],
   "responses": {**ok({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": ref("Event")}, "next": {"type": "string"}}}), **errs(400, 401, 403, 404, 500)}}},
 "/v1/properties/{cadastralNumber}/extract": {"get": {"summary": "A verifiable extract (a non-encumbrance certificate when it lists no restrictions); check it with tamga verify", "security": auth,
   "parameters": [cn, height, param("format", "query", {"type": "string", "enum": ["html"]}, "a printable page instead of JSON")],
   "responses": {"200": {"description": "The extract", "content": {"application/json": {"schema": ref("Extract")}, "text/html": {"schema": {"type": "string"}}}},
                 **errs(400, 401, 403, 404, 503, 500)}}},
 "/v1/properties/{cadastralNumber}/proof": {"get": {"summary": "The same as .../extract: the passport with its proof, header and commit at a height", "security": auth,
   "parameters": [cn, height, param("format", "query", {"type": "string", "enum": ["html"]}, "a printable page instead of JSON")],
   "responses": {"200": {"description": "The extract", "content": {"application/json": {"schema": ref("Extract")}, "text/html": {"schema": {"type": "string"}}}},
                 **errs(400, 401, 403, 404, 503, 500)}}},
 "/v1/deeds/{id}": {"get": {"summary": "A deed (its parties or an authority)", "security": session, "parameters": [param("id", schema=hex64)],
   "responses": {**ok({"type": "object"}), **errs(400, 401, 403, 404, 500)}}},
 "/v1/pledges/{id}": {"get": {"summary": "A pledge (its bank, the owners or an authority)", "security": session, "parameters": [param("id", schema=hex64)],
   "responses": {**ok({"type": "object"}), **errs(400, 401, 403, 404, 500)}}},
 "/v1/documents": {"post": {"summary": "Upload a source document (PDF, JPEG or PNG, at most 8 MiB), kept by its SHA-256 (a session of an enrolled party)",
   "security": session, "requestBody": {"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ("application/pdf", "image/jpeg", "image/png")}},
   "responses": {**ok(ref("Document"), "Kept (or already kept)", "201"), **errs(400, 401, 413, 415, 500)}}},
 "/v1/documents/{hash}": {"get": {"summary": "A source document, for its uploader, the parties of the records that cite it, and registrars, notaries, courts and enforcement officers",
   "security": session, "parameters": [param("hash", schema=hex64)],
   "responses": {"200": {"description": "The document's bytes, as an attachment", "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ("application/pdf", "image/jpeg", "image/png")}},
                 **errs(400, 401, 403, 404, 409, 503, 500)}}},
 "/v1/parties/{id}/webhooks": {"post": {"summary": "Subscribe a URL to events (the party's own session); the answer carries the signing secret, once",
   "security": session, "parameters": [param("id", schema=party_id)],
   "requestBody": {"required": True, "content": {"application/json": {"schema": ref("WebhookRequest")}}},
   "responses": {**ok(ref("Webhook"), "Subscribed", "201"), **errs(400, 401, 403, 409, 413, 500)}},
   "get": {"summary": "The party's subscriptions on this node (without their secrets)", "security": session, "parameters": [param("id", schema=party_id)],
   "responses": {**ok({"type": "array", "items": ref("Webhook")}), **errs(400, 401, 403, 500)}}},
 "/v1/parties/{id}/webhooks/{webhook}": {"delete": {"summary": "End a subscription (what it still had to send is dropped)", "security": session,
   "parameters": [param("id", schema=party_id), param("webhook")],
   "responses": {"204": {"description": "Ended"}, **errs(400, 401, 403, 404, 500)}}},
 "/v1/parties/{id}/webhooks/{webhook}/deliveries": {"get": {"summary": "A subscription's deliveries and their status, oldest first", "security": session,
   "parameters": [param("id", schema=party_id), param("webhook"), param("after", "query", {"type": "integer", "minimum": 0}, "the `next` of the previous page"), limit],
   "responses": {**ok({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": ref("Delivery")}, "next": {"type": "string"}}}),
                 **errs(400, 401, 403, 404, 500)}}},
 "/v1/parties/{id}/webhooks/{webhook}/replay": {"post": {"summary": "Send a subscription's deliveries from `from` (a delivery's seq) on again, with their ids",
   "security": session, "parameters": [param("id", schema=party_id), param("webhook")],
   "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "required": ["from"], "properties": {"from": {"type": "integer", "minimum": 0}}}}}},
   "responses": {**ok({"type": "object", "required": ["requeued"], "properties": {"requeued": {"type": "integer"}}}), **errs(400, 401, 403, 404, 413, 500)}}},
 "/v1/parties/{id}/contact": {"put": {"summary": "Record a person's phone and e-mail for SMS and e-mail, with their consent (a registrar's session); kept off chain on this node",
   "security": session, "parameters": [param("id", schema=party_id)],
   "requestBody": {"required": True, "content": {"application/json": {"schema": ref("ContactRequest")}}},
   "responses": {**ok(ref("Contact")), **errs(400, 401, 403, 404, 409, 413, 500)}},
   "get": {"summary": "The contact details this node keeps (the person's own session or a registrar's)", "security": session, "parameters": [param("id", schema=party_id)],
   "responses": {**ok(ref("Contact")), **errs(400, 401, 403, 404, 500)}},
   "delete": {"summary": "Forget the contact details this node keeps (the person's own session)", "security": session,
   "parameters": [param("id", schema=party_id)], "responses": {"204": {"description": "Forgotten"}, **errs(400, 401, 403, 404, 500)}}},
 "/v1/parties/{id}/contact/opt-out": {"post": {"summary": "Be told nothing more by SMS or e-mail (the person's own session); a registrar's later record keeps the opt-out", "security": session,
   "parameters": [param("id", schema=party_id)], "responses": {**ok(ref("Contact")), **errs(400, 401, 403, 404, 500)}}},
 "/v1/parties/{id}/contact/opt-in": {"post": {"summary": "Be told again, of blocks from now on (the person's own session)", "security": session,
   "parameters": [param("id", schema=party_id)], "responses": {**ok(ref("Contact")), **errs(400, 401, 403, 404, 500)}}},
 "/v1/pledges": {"get": {"summary": "Pledges waiting for a registrar's review (proposed, or signed by the owners), oldest first (a registrar's session)",
   "security": session, "parameters": [param("after", "query", {"type": "string", "pattern": "^[0-9]{1,19}[.][0-9]{1,9}$"}, "the `next` of the previous page"), limit],
   "responses": {**ok({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "object"}}, "next": {"type": "string"}}}),
                 **errs(400, 401, 403, 500)}}},
 "/v1/pledges/{id}/certificate": {"get": {"summary": "The printable pledge registration certificate, with the check code of the property's extract",
   "security": session, "parameters": [param("id", schema=hex64)],
   "responses": {"200": {"description": "The certificate page", "content": {"text/html": {"schema": {"type": "string"}}}}, **errs(400, 401, 403, 404, 409, 503, 500)}}},
 "/v1/auth/challenge": {"post": {"summary": "A challenge to sign for a session", "responses": {**ok(ref("Challenge")), **errs(500)}}},
 "/v1/auth/session": {"post": {"summary": "Open a session with a signed challenge",
   "requestBody": {"required": True, "content": {"application/json": {"schema": ref("SessionRequest")}}},
   "responses": {**ok(ref("Session")), **errs(400, 401, 413, 503, 500)}},
   "delete": {"summary": "End the session (logout)", "security": session,
   "responses": {"204": {"description": "The session is over"}, **errs(401, 500)}}},
 "/v1/openapi.json": {"get": {"summary": "This document", "responses": {**ok({"type": "object"})}}},
 "/v1/genesis": {"get": {"summary": "The public part of the genesis (chain id, time, genesis validators, parameters): what extracts are checked against",
   "responses": {**ok({"type": "object", "required": ["format", "chainId", "genesisTime", "validators", "parameters"], "properties": {
       "format": {"type": "string"}, "chainId": {"type": "string"}, "genesisTime": {"type": "integer"},
       "validators": {"type": "array", "items": {"type": "object", "required": ["name", "publicKey", "votingPower"]}}, "parameters": {"type": "object"}}}), **errs(500)}}},
 "/v1/extracts/{code}": {"get": {"summary": "An extract this node served, found again by its verification code (public: the code is on the printed extract)",
   "parameters": [param("code", schema=hex64)], "responses": {**ok(ref("Extract")), **errs(400, 404, 500)}}},
 "/v1/parties/{id}/deeds": {"get": {"summary": "The open deeds that name the party (its own session)", "security": session, "parameters": [param("id", schema=party_id)],
   "responses": {**ok({"type": "object", "required": ["party", "deeds"], "properties": {"party": {"type": "string"}, "deeds": {"type": "array", "items": {"type": "object"}}}}), **errs(400, 401, 403, 500)}}},
 "/v1/parties/{id}/notifications/stream": {"get": {"summary": "Server-sent events: each event naming the party as it is decided (its own session)", "security": session,
   "parameters": [param("id", schema=party_id), after, param("Last-Event-ID", "header", {"type": "string"}, "the id of the last event received")],
   "responses": {"200": {"description": "An event stream: `id:` the event's cursor, `event: ledger`, `data:` the event as in .../notifications", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                 **errs(400, 401, 403, 500)}}},
 "/v1/demo/parties": {"get": {"summary": "A devnet's demo parties with their key files, for the portal's picker (only a devnet's nodes on loopback; 404 everywhere else)",
   "responses": {**ok({"type": "array", "items": {"type": "object", "required": ["party", "name", "roles", "keyFile"], "properties": {
       "party": {"type": "string"}, "name": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}}, "keyFile": {"type": "string"}}}}), **errs(404, 500)}}},
 "/": {"get": {"summary": "The web portal", "responses": {"200": {"description": "The portal's page", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
 "/portal/{file}": {"get": {"summary": "The portal's files (scripts, styles, message catalogs)", "parameters": [param("file", desc="e.g. style.css")],
   "responses": {"200": {"description": "The file", "content": {"text/css": {"schema": {"type": "string"}}, "text/javascript": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}}}, **errs(404, 500)}}},
}
# Every operation may be rate limited (429 with Retry-After); every one that reads the state or a
# session may meet a node that is catching up (503 node.catching_up).
limited = {"description": "Too many requests of this kind from this client or party", "headers": {
    "Retry-After": {"required": True, "description": "seconds to wait", "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    "content": {"application/problem+json": {"schema": ref("Problem")}}}
for path, item in paths.items():
    for operation in item.values():
        if path != "/v1/openapi.json":
            operation["responses"]["429"] = limited
        if path not in ("/v1/openapi.json", "/v1/status", "/v1/auth/challenge", "/v1/blocks", "/v1/blocks/{height}", "/v1/genesis",
                        "/v1/extracts/{code}", "/v1/demo/parties", "/", "/portal/{file}") and "503" not in operation["responses"]:
            operation["responses"]["503"] = problem
        operation["responses"] = dict(sorted(operation["responses"].items()))
schemas = {
 "Document": {"type": "object", "required": ["hash", "mediaType", "size"], "properties": {"hash": hex64, "mediaType": {"type": "string"}, "size": {"type": "integer"}}},
 "WebhookRequest": {"type": "object", "required": ["url"], "properties": {
   "url": {"type": "string", "description": "http or https; public addresses only unless the node allows private ones"},
   "kinds": {"type": "array", "maxItems": 32, "items": {"type": "string"}, "description": "event kinds (pledge.registered) or families (pledge.*); all when absent"},
   "property": cadastral, "allParties": {"type": "boolean", "description": "every event of the chain, not only those naming the party (registrars and courts)"}}},
 "Webhook": {"type": "object", "required": ["id", "url", "kinds", "allParties", "fromHeight"], "properties": {
   "id": {"type": "string"}, "url": {"type": "string"}, "kinds": {"type": "array", "items": {"type": "string"}}, "property": {"type": "string"},
   "allParties": {"type": "boolean"}, "fromHeight": {"type": "integer"}, "secret": {"type": "string", "description": "whsec_…, only when subscribing"}}},
 "Delivery": {"type": "object", "required": ["seq", "eventId", "state", "attempts"], "properties": {
   "seq": {"type": "integer"}, "eventId": {"type": "string"}, "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
   "attempts": {"type": "integer"}, "lastError": {"type": "string"}, "nextAttemptAt": {"type": "integer"}, "deliveredAt": {"type": "integer"}}},
 "ContactRequest": {"type": "object", "required": ["consent"], "properties": {
   "phone": {"type": "string", "pattern": "^[+][1-9][0-9]{7,14}$"}, "email": {"type": "string", "maxLength": 254},
   "language": {"type": "string", "enum": ["kk", "ru", "en"]}, "consent": {"type": "boolean", "description": "must be true"}}},
 "Contact": {"type": "object", "required": ["party", "language", "consentAt", "recordedBy"], "properties": {
   "party": {"type": "string"}, "phone": {"type": "string"}, "email": {"type": "string"}, "language": {"type": "string"},
   "consentAt": {"type": "integer"}, "optedOutAt": {"type": "integer"}, "recordedBy": {"type": "string"},
   "fromHeight": {"type": "integer", "description": "messages are about blocks from this height on (the block after the consent)"}}},
 "Problem": {"type": "object", "required": ["type", "title", "status", "code", "detail"], "properties": {
   "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "code": {"type": "string"}, "detail": {"type": "string"}}},
 "Envelope": {"type": "object", "required": ["payload", "signatures"], "properties": {
   "payload": {"type": "string", "minLength": 4, "pattern": "^[A-Za-z0-9+/]+={0,2}$", "description": "base64 of the UTF-8 JSON payload as signed"},
   "signatures": {"type": "array", "minItems": 1, "maxItems": 8, "items": {"type": "object", "required": ["keyId", "signature"], "properties": {
     "keyId": hex64, "signature": {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"}}}}}},
 "Receipt": {"type": "object", "required": ["transaction", "events", "feePaid"], "properties": {
   "transaction": {"type": "string"}, "rejectionCode": {"type": "string"}, "rejectionMessage": {"type": "string"},
   "events": {"type": "array", "items": {"type": "object"}}, "feePaid": {"type": "integer"}}},
 "TransactionStatus": {"type": "object", "required": ["id", "status"], "properties": {
   "id": {"type": "string"}, "status": {"type": "string", "enum": ["pending", "committed", "rejected", "dropped"]},
   "height": {"type": "integer"}, "position": {"type": "integer"}, "receipt": ref("Receipt"),
   "dropped": {"type": "object", "required": ["code", "reason"], "description": "why a transaction left the mempool uncommitted",
     "properties": {"code": {"type": "string"}, "reason": {"type": "string"}}}}},
 "Status": {"type": "object", "required": ["chainId", "genesisHash", "height", "latestBlockHash", "latestBlockTime", "stateRoot", "validators", "networkHeight", "catchingUp", "minimumFee", "node"], "properties": {
   "chainId": {"type": "string"}, "genesisHash": {"type": "string"}, "height": {"type": "integer"}, "latestBlockHash": {"type": "string"},
   "networkHeight": {"type": "integer", "description": "the greatest height validators with more than a third of the power report"},
   "catchingUp": {"type": "boolean", "description": "more than a block behind networkHeight: state reads and submissions answer 503 node.catching_up"},
   "minimumFee": {"type": "integer", "description": "the fee in tiyn every transaction must offer at least, as governance last set it"},
   "latestBlockTime": {"type": "integer"}, "stateRoot": {"type": "string"}, "validators": {"type": "array", "items": {"type": "object"}}, "node": {"type": "object"}}},
 "Block": {"type": "object", "required": ["header", "transactions", "evidence", "commit"], "properties": {
   "header": {"type": "object", "required": ["height", "hash", "time", "stateRoot"], "properties": {"height": {"type": "integer"}, "hash": {"type": "string"}, "time": {"type": "integer"}, "stateRoot": {"type": "string"}}},
   "transactions": {"type": "array", "items": {"type": "object", "required": ["id", "status"], "properties": {"id": {"type": "string"}, "status": {"type": "string"}, "rejectionCode": {"type": "string"}}}},
   "evidence": {"type": "integer"}, "commit": {"type": "object"}}},
 "PartyPublic": {"type": "object", "required": ["id", "roles", "keys", "nonce"], "properties": {
   "id": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}}, "keys": {"type": "array", "items": {"type": "string"}}, "nonce": {"type": "integer"}}},
 "Encumbrances": {"type": "object", "required": ["cadastralNumber", "isFree", "restrictions"], "properties": {
   "cadastralNumber": {"type": "string"}, "isFree": {"type": "boolean"}, "restrictions": {"type": "array", "items": {"type": "object"}}}},
 "Passport": {"type": "object", "required": ["cadastralNumber", "kind", "address", "area", "owners", "restrictions", "documents", "registeredAt"], "properties": {
   "cadastralNumber": {"type": "string"}, "kind": {"type": "string"}, "address": {"type": "string"}, "area": {"type": "integer", "description": "hundredths of a square metre"},
   "location": {"type": "object"}, "owners": {"type": "array", "items": {"type": "object"}}, "restrictions": {"type": "array", "items": {"type": "object"}},
   "documents": {"type": "array", "items": {"type": "string"}}, "registeredAt": {"type": "integer"}}},
 "Extract": {"type": "object", "required": ["format", "chainId", "cadastralNumber", "height", "record", "passport", "proof", "header", "commit"], "properties": {
   "format": {"type": "string", "enum": ["tamga-extract-v1"]}, "chainId": {"type": "string"}, "cadastralNumber": {"type": "string"}, "height": {"type": "integer"},
   "record": {"type": "string", "description": "the passport record's bytes, base64"}, "passport": ref("Passport"),
   "proof": {"type": "string", "description": "StateProof, binary layout, base64"}, "header": {"type": "string", "description": "BlockHeader, base64"},
   "commit": {"type": "string", "description": "Commit, base64"},
   "validatorHandovers": {"type": "array", "description": "the validator-set changes from genesis to the header, in height order; absent while the genesis set governs",
     "items": {"type": "object", "required": ["header", "commit", "record", "proof"], "properties": {
       "header": {"type": "string", "description": "BlockHeader, base64"}, "commit": {"type": "string", "description": "Commit, base64"},
       "record": {"type": "string", "description": "the validators record's bytes (canonical JSON), base64"},
       "proof": {"type": "string", "description": "StateProof of the validators record in the header's state root, base64"}}}}}},
 "Offer": {"type": "object", "required": ["cadastralNumber", "price", "listedAt", "kind", "address", "area", "encumbered", "owners"], "properties": {
   "cadastralNumber": {"type": "string"}, "price": {"type": "integer"}, "listedAt": {"type": "integer"}, "kind": {"type": "string"},
   "address": {"type": "string"}, "area": {"type": "integer"}, "encumbered": {"type": "boolean"},
   "owners": {"type": "array", "description": "the owners who listed it, with their shares: the sellers", "items": {"type": "object", "required": ["party", "share"], "properties": {"party": {"type": "string"}, "share": {"type": "string"}}}}}},
 "Event": {"type": "object", "required": ["cursor", "height", "transaction", "kind", "parties", "properties"], "properties": {
   "cursor": {"type": "string"}, "height": {"type": "integer"}, "transaction": {"type": "string"}, "kind": {"type": "string"},
   "parties": {"type": "array", "items": {"type": "string"}}, "properties": {"type": "array", "items": {"type": "string"}},
   "deed": {"type": "string"}, "amount": {"type": "integer"}}},
 "Challenge": {"type": "object", "required": ["challenge", "expiresInSeconds", "signText"], "properties": {
   "challenge": {"type": "string"}, "expiresInSeconds": {"type": "integer"}, "signText": {"type": "string"}}},
 "SessionRequest": {"type": "object", "required": ["party", "keyId", "challenge", "signature"], "properties": {
   "party": party_id, "keyId": hex64, "challenge": {"type": "string", "pattern": "^[0-9a-fA-F]{80}$"}, "signature": {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"}}},
 "Session": {"type": "object", "required": ["token", "party", "roles", "expiresInSeconds"], "properties": {
   "token": {"type": "string"}, "party": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}}, "expiresInSeconds": {"type": "integer"}}},
}
doc = {"openapi": "3.1.0", "info": {"title": "Tamga node API", "version": "1",
        "description": "What every Tamga node serves. Generated by scripts/openapi.py; docs/api.md explains it."},
       "paths": paths,
       "components": {"schemas": schemas, "securitySchemes": {
           "bearer": {"type": "http", "scheme": "bearer", "description": "a session from POST /v1/auth/session"},
           "accessCode": {"type": "apiKey", "in": "header", "name": "X-Access-Code", "description": "the passport's access code"}}}}
# The document lives in docs/openapi.json; the server serves the same bytes from a generated Swift
# file, and a test checks that the two are identical and that the server answers every operation
# with a documented status.
import os
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
open(os.path.join(root, "docs", "openapi.json"), "w").write(text)
assert '"""#' not in text
open(os.path.join(root, "Sources", "TamgaAPI", "OpenAPIDocument.swift"), "w").write(
    "// Generated by scripts/openapi.py from the same data as docs/openapi.json; do not edit.\n\n"
    "extension NodeAPI {\n    /// The OpenAPI 3.1 document served at `/v1/openapi.json`.\n"
    "    public static let openAPIDocument = #\"\"\"\n" + text + "\n\"\"\"#\n}\n")
