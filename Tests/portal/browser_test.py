#!/usr/bin/env python3
"""Browser tests of the portal: headless Chromium driven by selenium, against a devnet of four
validator processes that this script starts (on loopback, ports 18080+ and 36600+) and stops.

Run: python3 Tests/portal/browser_test.py [path to the tamga binary]
Screenshots of every page in every language go to docs/screenshots/ (TAMGA_SCREENSHOTS overrides).
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.stdout.reconfigure(line_buffering=True)

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAMGA = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "tamga"))
API_PORT = 18080
PORTAL = f"http://127.0.0.1:{API_PORT}"
SHOTS = os.environ.get("TAMGA_SCREENSHOTS", os.path.join(ROOT, "docs", "screenshots"))
LANGUAGES = ["kk", "ru", "en"]
failures = []


def api(path, node=0):
    with urllib.request.urlopen(f"http://127.0.0.1:{API_PORT + node}{path}") as answer:
        return json.load(answer)


def start_devnet(folder):
    log = open(os.path.join(folder, "devnet.log"), "w")
    process = subprocess.Popen([TAMGA, "devnet", "--dir", folder, "--api-port", str(API_PORT), "--peer-port", "36600"],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    # The devnet writes `seeded` once its demo data is final; then every node must answer.
    while time.time() < deadline:
        if process.poll() is not None:
            break
        if os.path.exists(os.path.join(folder, "seeded")):
            try:
                for node in range(4):
                    api("/v1/status", node)
                return process
            except OSError:
                pass
        time.sleep(0.5)
    raise SystemExit(f"the devnet did not start; see {folder}/devnet.log and {folder}/node-*/node.log")


def tx(folder, *arguments, party):
    """A transaction through the CLI, as an authority or a party would send it outside the portal."""
    subprocess.run([TAMGA, "tx", *arguments, "--key", f"{folder}/parties/{party}.key", "--party", party, "--node", PORTAL],
                   check=True, capture_output=True, text=True)


def browser(downloads):
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en"]:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")), options=options)
    driver.set_script_timeout(60)
    return driver


def wait(driver, css, timeout=40):
    return WebDriverWait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def wait_text(driver, css, text, timeout=40):
    WebDriverWait(driver, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return driver.find_element(By.CSS_SELECTOR, css).text


def go(driver, route):
    """Opens a page afresh: the same address again is reloaded, since only a change of the
    address after # makes the portal render."""
    target = f"{PORTAL}/#/{route}"
    if driver.current_url == target:
        driver.refresh()
    else:
        driver.get(target)
    wait(driver, "main h1")


def language(driver, code):
    Select(wait(driver, "#language")).select_by_value(code)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.documentElement.lang") == code)
    time.sleep(0.3)


def sign_in_as(driver, party):
    go(driver, "signin")
    Select(wait(driver, "#demo-party")).select_by_value(party)
    driver.find_element(By.ID, "demo-submit").click()
    wait_text(driver, "#who", party)


def case(name):
    def register(function):
        def run(*arguments):
            try:
                function(*arguments)
                print(f"ok    {name}")
            except Exception as error:  # noqa: BLE001 - every failure is reported, then the run fails
                failures.append(name)
                print(f"FAIL  {name}: {type(error).__name__}: {error}")
        return run
    return register


@case("the language switch changes every string and the locale's formats")
def language_switch(driver):
    go(driver, "")
    titles = {}
    for code in LANGUAGES:
        language(driver, code)
        titles[code] = driver.find_element(By.CSS_SELECTOR, "main h1").text
        assert driver.find_element(By.CSS_SELECTOR, "#nav a[href='#/check']").text, "navigation has no text"
    catalogs = {code: json.load(open(os.path.join(ROOT, "Sources/TamgaAPI/Portal/i18n", f"{code}.json"))) for code in LANGUAGES}
    for code in LANGUAGES:
        assert titles[code] == catalogs[code]["home.title"], f"{code}: {titles[code]!r}"
    assert len(set(titles.values())) == 3
    go(driver, "market")
    language(driver, "ru")
    wait(driver, ".offer .price")
    price = driver.find_element(By.CSS_SELECTOR, ".offer .price").text
    assert "₸" in price and "\u00a0" in price or " " in price, f"a Russian tenge amount: {price!r}"
    language(driver, "en")


@case("the encumbrance check shows an arrest, and a free property as free")
def encumbrance_check(driver, folder):
    order = hashlib.sha256(b"court order 7-11").hexdigest()
    tx(folder, "arrest-impose", "--property", "01-001-001-5", "--order-hash", order, party="court-1")
    go(driver, "check")
    field = wait(driver, "#check-number")
    field.send_keys("01-001-001-5")
    driver.find_element(By.ID, "check-submit").click()
    text = wait_text(driver, "#check-result", "encumbered")
    assert "Arrest" in text and "court-1" in text and order in text, text
    go(driver, "check?n=01-001-001-6")
    assert "is free" in wait_text(driver, "#check-result", "free")
    go(driver, "check?n=99-999")
    wait_text(driver, "main [role=alert]", "cadastral")


@case("two browsers complete a sale from listing to settlement, on every node")
def sale(seller, buyer, folder):
    sign_in_as(seller, "citizen-2")
    go(seller, "account/property?n=01-001-001-2")
    wait(seller, "#sale-price").send_keys("400000")
    seller.find_element(By.ID, "sale-list").click()
    wait_text(seller, "#property-result", "block")
    before = {party: api(f"/v1/parties/{party}") for party in ["citizen-2", "citizen-3"]}
    sign_in_as(buyer, "citizen-3")
    go(buyer, "market")
    wait(buyer, "[data-buy='01-001-001-2']").click()
    terms = wait_text(buyer, ".terms", "citizen-2")
    assert "400,000.00" in terms and "citizen-3" in terms, terms
    buyer.find_element(By.ID, "buy-sign").click()
    receipt = wait_text(buyer, "#buy-result", "settled")
    assert "opened" in receipt and "40,000,000" not in receipt, receipt
    owned_everywhere(folder, "citizen-3", "01-001-001-2")
    for node in range(4):
        assert "01-001-001-2" not in [offer["cadastralNumber"] for offer in api("/v1/offers", node)["items"]], f"node {node} still lists it"
    go(buyer, "account")
    wait_text(buyer, "main", "01-001-001-2")
    go(seller, "account")
    assert "01-001-001-2" not in wait(seller, "main").text
    go(seller, "account/wallet")
    wait(seller, "#wallet-balance")
    assert "listed for sale" in seller.find_element(By.CSS_SELECTOR, "main table").text
    assert "settled" in seller.find_element(By.CSS_SELECTOR, "main table").text
    assert before["citizen-3"]["nonce"] + 1 == api("/v1/parties/citizen-3")["nonce"]


@case("a deed proposed to an owner: the buyer's tokens are held, then paid when the owner signs")
def deed_signature(seller, buyer, folder):
    tx(folder, "deed-propose", "--property", "01-001-001-4", "--seller", "citizen-4:1", "--buyer", "citizen-1:1:30000000", party="citizen-1")
    sign_in_as(buyer, "citizen-1")
    go(buyer, "account/wallet")
    held = wait(buyer, "#wallet-held").text
    assert "300,000.00" in held, f"the buyer's tokens are held: {held!r}"
    sign_in_as(seller, "citizen-4")
    go(seller, "account/deeds")
    terms = wait_text(seller, ".deed", "citizen-1")
    assert "300,000.00" in terms and "01-001-001-4" in terms, terms
    seller.find_element(By.CSS_SELECTOR, "[data-sign]").click()
    wait_text(seller, ".deed", "settled")
    go(buyer, "account/wallet")
    held = wait(buyer, "#wallet-held").text
    assert held.endswith("0.00") and "300,000" not in held, f"the hold is paid out: {held!r}"
    movements = buyer.find_element(By.CSS_SELECTOR, "main table").text
    assert "settled" in movements, movements
    owned_everywhere(folder, "citizen-1", "01-001-001-4")


def owns(folder, party, number, node):
    """Whether node `node` names `party` as the sole owner of `number`, read with the party's session
    (the CLI opens one by signing the node's challenge)."""
    result = subprocess.run([TAMGA, "query", "passport", number, "--party", party, "--key", f"{folder}/parties/{party}.key",
                             "--node", f"http://127.0.0.1:{API_PORT + node}"], capture_output=True, text=True)
    return f'owners: [{{"party":"{party}","share":"1"}}]' in result.stdout


def owned_everywhere(folder, party, number):
    for node in range(4):
        deadline = time.time() + 20
        while not owns(folder, party, number, node):
            assert time.time() < deadline, f"node {node} does not show {party} as the owner of {number}"
            time.sleep(0.5)


@case("the verify page accepts a real extract and rejects a tampered one with its reason")
def verify_page(driver):
    sign_in_as(driver, "citizen-6")
    go(driver, "extract?n=01-001-001-6")
    code = wait(driver, "#extract-code").text
    assert len(code) == 64, code
    assert "non-encumbrance" in driver.find_element(By.CSS_SELECTOR, "main h1").text.lower()
    extract = driver.execute_async_script(
        "const done = arguments[0]; const token = JSON.parse(sessionStorage.getItem('tamga.session')).token;"
        "fetch('/v1/properties/01-001-001-6/extract', {headers: {Authorization: 'Bearer ' + token}}).then(r => r.json()).then(done);")
    go(driver, f"verify?code={code}")
    text = wait_text(driver, "#verify-result", "VALID")
    assert "01-001-001-6" in text and "INVALID" not in text, text
    tampered = dict(extract)
    tampered["passport"] = dict(extract["passport"], area=extract["passport"]["area"] + 100)
    go(driver, "verify")
    box = wait(driver, "#verify-text")
    driver.execute_script("arguments[0].value = arguments[1];", box, json.dumps(tampered))
    driver.find_element(By.ID, "verify-submit").click()
    text = wait_text(driver, "#verify-result", "INVALID")
    assert "readable passport differs" in text, text


@case("a person makes a key in the browser, a registrar enrolls them, they co-sign and then sign in with it")
def enrollment(person, registrar, downloads):
    for name in os.listdir(downloads):
        os.remove(os.path.join(downloads, name))
    go(person, "signin")
    wait(person, "#newkey-name").send_keys("Test Person")
    person.find_element(By.ID, "newkey-passphrase").send_keys("a long enough passphrase")
    person.find_element(By.ID, "newkey-submit").click()
    wait_text(person, "#newkey-result", "backup", timeout=60)
    person.find_element(By.CSS_SELECTOR, "#newkey-result button").click()
    request_file = downloaded(downloads, "enrollment-")
    backup = json.load(open(downloaded(downloads, "tamga-key-")))
    assert backup["format"] == "tamga-key-backup-v1" and "privateKey" not in json.dumps(backup), "the backup is encrypted"
    request = json.load(open(request_file))
    sign_in_as(registrar, "registrar-1")
    go(registrar, "account/enroll")
    wait(registrar, "#enroll-file").send_keys(request_file)
    registrar.find_element(By.ID, "enroll-party").send_keys("citizen-new")
    registrar.find_element(By.ID, "enroll-identity").send_keys("identity document 042 checked at the desk")
    registrar.find_element(By.ID, "enroll-submit").click()
    signed = WebDriverWait(registrar, 40).until(lambda d: d.find_element(By.ID, "enroll-signed").get_attribute("value"))
    go(person, "cosign")
    box = wait(person, "#cosign-text")
    person.execute_script("arguments[0].value = arguments[1];", box, signed)
    person.find_element(By.ID, "cosign-read").click()
    assert "identity.enroll" in wait_text(person, "#cosign-result", "registrar-1")
    Select(person.find_element(By.ID, "cosign-key")).select_by_value(request["keyId"])
    person.find_element(By.ID, "cosign-sign").click()
    wait_text(person, "#cosign-result", "2")
    person.find_element(By.ID, "cosign-submit").click()
    assert "citizen-new" in wait_text(person, "#cosign-result", "Enrolled"), "the enrollment is decided"
    go(person, "signin")
    Select(wait(person, "#signin-key")).select_by_value(request["keyId"])
    party = person.find_element(By.ID, "signin-party")
    party.clear()
    party.send_keys("citizen-new")
    person.find_element(By.ID, "signin-submit").click()
    wait_text(person, "#who", "citizen-new")
    exportable = person.execute_async_script(
        "const done = arguments[0]; const open = indexedDB.open('tamga', 1); open.onsuccess = () => {"
        "  const all = open.result.transaction('keys').objectStore('keys').getAll();"
        "  all.onsuccess = () => done(all.result.map((record) => record.privateKey.extractable)); };")
    assert exportable and not any(exportable), f"every kept key is non-extractable: {exportable}"


def downloaded(folder, prefix):
    deadline = time.time() + 20
    while time.time() < deadline:
        names = [name for name in os.listdir(folder) if name.startswith(prefix) and not name.endswith(".crdownload")]
        if names:
            return os.path.join(folder, names[0])
        time.sleep(0.2)
    raise AssertionError(f"no file {prefix}* was downloaded")


@case("a registrar opens a pledge's loan contract from the review list and registers it")
def pledge_review(driver, downloads):
    # The devnet seeds bank-1's pledge on property 10, signed by its owner, with the contract uploaded.
    for name in os.listdir(downloads):
        os.remove(os.path.join(downloads, name))
    sign_in_as(driver, "registrar-1")
    go(driver, "account/review")
    item = wait_text(driver, "[data-pledge]", "01-001-001-10")
    assert "bank-1" in item and "12,000,000.00" in item and "citizen-10" in item, item
    os.makedirs(SHOTS, exist_ok=True)
    for code in LANGUAGES:
        language(driver, code)
        wait(driver, "[data-pledge]")
        driver.set_window_size(1280, max(800, driver.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")))
        assert driver.save_screenshot(os.path.join(SHOTS, f"account-review-{code}.png"))
        driver.set_window_size(1280, 1000)
    language(driver, "en")
    axe = Axe(driver)
    axe.inject()
    serious = [v["id"] for v in axe.run()["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, serious
    button = wait(driver, "[data-pledge] [data-document]")
    digest = button.get_attribute("data-document")
    button.click()
    contract = open(downloaded(downloads, digest), "rb").read()
    assert contract.startswith(b"%PDF-") and hashlib.sha256(contract).hexdigest() == digest, "the contract is the one the pledge cites"
    driver.find_element(By.CSS_SELECTOR, "[data-pledge] [data-register]").click()
    assert "Pledge registered" in wait_text(driver, "[data-pledge] .notice-success", "Pledge registered")
    for node in range(4):
        deadline = time.time() + 20
        while not any(r["kind"] == "pledge" and r["holder"] == "bank-1" for r in api("/v1/properties/01-001-001-10/encumbrances", node)["restrictions"]):
            assert time.time() < deadline, f"node {node} does not show the pledge"
            time.sleep(0.5)
    go(driver, "account/review")
    wait(driver, "#no-pledges")


@case("a party adds a key made in the browser (it co-signs its own addition) and revokes it")
def add_and_revoke_key(driver):
    sign_in_as(driver, "citizen-4")  # a party with tenge for the fees (one just enrolled has none)
    go(driver, "account/keys")
    before = len(driver.find_elements(By.CSS_SELECTOR, ".keys li"))
    wait(driver, "#addkey-passphrase").send_keys("another long passphrase")
    driver.find_element(By.ID, "addkey-submit").click()
    wait_text(driver, "#keys-result", "Key added", timeout=60)
    go(driver, "account/keys")
    WebDriverWait(driver, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".keys li [data-revoke]")) == before + 1)
    session_key = driver.execute_script("return JSON.parse(sessionStorage.getItem('tamga.session')).keyId")
    other = [button for button in driver.find_elements(By.CSS_SELECTOR, "[data-revoke]") if button.get_attribute("data-revoke") != session_key][0]
    other.click()
    wait_text(driver, "#keys-result", "Key revoked")


@case("co-owners list their property: one prepares the listing, the other co-signs and submits it; one withdraws it")
def co_owned_listing(first, second, folder):
    body = {"cadastralNumber": "01-002-001-1", "kind": "land", "address": "Almaty, Abay avenue 1", "area": 60000,
            "owners": [{"party": "citizen-8", "share": "1/2"}, {"party": "citizen-9", "share": "1/2"}],
            "titleDocumentHash": hashlib.sha256(b"title of a shared plot").hexdigest()}
    tx(folder, "send", "--type", "property.register", "--body", json.dumps(body), party="registrar-1")
    sign_in_as(first, "citizen-8")
    go(first, "account/property?n=01-002-001-1")
    wait(first, "#sale-price").send_keys("100000")
    first.find_element(By.ID, "sale-list").click()
    request = WebDriverWait(first, 40).until(lambda d: d.find_element(By.ID, "signature-request").get_attribute("value"))
    sign_in_as(second, "citizen-9")
    go(second, "cosign")
    second.execute_script("arguments[0].value = arguments[1];", wait(second, "#cosign-text"), request)
    second.find_element(By.ID, "cosign-read").click()
    shown = wait_text(second, "#cosign-result", "sale.list")
    assert "100,000.00" in shown and "citizen-8" in shown, shown
    options = Select(second.find_element(By.ID, "cosign-key")).options
    Select(second.find_element(By.ID, "cosign-key")).select_by_value(next(o.get_attribute("value") for o in options if o.text.startswith("citizen-9")))
    second.find_element(By.ID, "cosign-sign").click()
    wait_text(second, "#cosign-result", "2 signatures")
    second.find_element(By.ID, "cosign-submit").click()
    wait_text(second, "#cosign-result", "listed for sale")
    offer = next(item for item in api("/v1/offers")["items"] if item["cadastralNumber"] == "01-002-001-1")
    assert offer["price"] == 10_000_000 and len(offer["owners"]) == 2, offer
    go(first, "account/property?n=01-002-001-1")
    wait(first, "#sale-withdraw").click()
    wait_text(first, "#property-result", "withdrawn")
    assert "01-002-001-1" not in [item["cadastralNumber"] for item in api("/v1/offers")["items"]]


@case("the encumbrance check works by keyboard alone")
def keyboard(driver):
    go(driver, "check")
    body = driver.find_element(By.TAG_NAME, "body")
    driver.execute_script("document.activeElement.blur()")
    for _ in range(30):
        body.send_keys(Keys.TAB) if driver.switch_to.active_element.tag_name == "body" else driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element.get_attribute("id") == "check-number":
            break
    assert driver.switch_to.active_element.get_attribute("id") == "check-number", "Tab reaches the cadastral number"
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused field shows where the focus is"
    driver.switch_to.active_element.send_keys("01-001-001-5", Keys.ENTER)
    assert "encumbered" in wait_text(driver, "#check-result", "encumbered")


@case("an owner makes an access code, shown once, that opens the passport; the owner sees who read it")
def access_code(driver):
    sign_in_as(driver, "citizen-7")
    go(driver, "account/property?n=01-001-001-7")
    wait(driver, "#code-create").click()
    code = wait(driver, "#access-code").text
    assert len(code) == 19, code
    request = urllib.request.Request(f"{PORTAL}/v1/properties/01-001-001-7", headers={"X-Access-Code": code.lower()})
    with urllib.request.urlopen(request) as answer:
        assert json.load(answer)["cadastralNumber"] == "01-001-001-7"
    go(driver, "account/property?n=01-001-001-7")
    assert "someone with the access code" in wait(driver, "main").text


@case("a refusal by the ledger is explained in the person's language")
def localized_refusal(driver, folder):
    tx(folder, "list", "--property", "01-001-001-10", "--price", "9000000000", party="citizen-10")
    sign_in_as(driver, "citizen-5")
    go(driver, "buy?n=01-001-001-10")
    language(driver, "ru")
    wait(driver, "#buy-sign").click()
    russian = json.load(open(os.path.join(ROOT, "Sources/TamgaAPI/Portal/i18n/ru.json")))
    text = wait_text(driver, "#buy-result", russian["error.token.insufficient_funds"])
    assert "token.insufficient_funds" in text, text
    language(driver, "en")


@case("notifications arrive live, without reloading")
def live_notifications(driver, folder):
    sign_in_as(driver, "citizen-6")
    go(driver, "account/notifications")
    wait_text(driver, "#stream-state", "Live")
    count = len(driver.find_elements(By.CSS_SELECTOR, "#notifications li"))
    tx(folder, "transfer", "--to", "citizen-6", "--amount", "12345", party="citizen-1")
    WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#notifications li")) > count)
    assert "transferred" in driver.find_element(By.CSS_SELECTOR, "#notifications li").text


@case("no serious or critical accessibility violation on any page (axe)")
def accessibility(driver):
    problems = []
    for route in ROUTES:
        go(driver, route)
        time.sleep(0.5)
        axe = Axe(driver)
        axe.inject()
        results = axe.run()
        for violation in results["violations"]:
            if violation["impact"] in ("serious", "critical"):
                problems.append(f"{route}: {violation['id']} ({violation['impact']}): {violation['help']} — {[node['target'] for node in violation['nodes']][:3]}")
    assert not problems, "\n".join(problems)


@case("usable on a 375 px phone screen: nothing wider than the screen")
def phone(driver):
    driver.set_window_size(375, 812)
    try:
        for route in ROUTES:
            go(driver, route)
            time.sleep(0.3)
            width = driver.execute_script("return document.documentElement.scrollWidth")
            assert width <= 375, f"{route} is {width} px wide"
        os.makedirs(SHOTS, exist_ok=True)
        go(driver, "market")
        driver.save_screenshot(os.path.join(SHOTS, "phone-market-en.png"))
    finally:
        driver.set_window_size(1280, 1000)


ROUTES = ["", "check?n=01-001-001-5", "market", "verify", "signin", "account", "account/property?n=01-001-001-6",
          "account/wallet", "account/deeds", "account/notifications", "account/keys", "cosign", "extract?n=01-001-001-6"]


@case("screenshots of every page in every language")
def screenshots(driver):
    os.makedirs(SHOTS, exist_ok=True)
    for code in LANGUAGES:
        go(driver, "")
        language(driver, code)
        for route in ROUTES:
            go(driver, route)
            time.sleep(0.6)
            name = (route.split("?")[0] or "home").replace("/", "-")
            height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")
            driver.set_window_size(1280, max(800, height))
            driver.save_screenshot(os.path.join(SHOTS, f"{name}-{code}.png"))
            driver.set_window_size(1280, 1000)
    go(driver, "")
    language(driver, "en")


def main():
    folder = tempfile.mkdtemp(prefix="tamga-portal-")
    downloads = tempfile.mkdtemp(prefix="tamga-downloads-")
    devnet = start_devnet(folder)
    first = second = None
    try:
        first, second = browser(downloads), browser(downloads)
        language_switch(first)
        encumbrance_check(first, folder)
        sale(first, second, folder)
        deed_signature(first, second, folder)
        verify_page(first)
        enrollment(first, second, downloads)
        pledge_review(second, downloads)
        add_and_revoke_key(first)
        co_owned_listing(first, second, folder)
        keyboard(first)
        access_code(first)
        localized_refusal(second, folder)
        live_notifications(first, folder)
        sign_in_as(first, "citizen-6")
        accessibility(first)
        phone(first)
        screenshots(first)
    finally:
        for driver in (first, second):
            if driver:
                driver.quit()
        os.killpg(devnet.pid, signal.SIGINT)
        devnet.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(downloads, ignore_errors=True)
    if failures:
        print(f"{len(failures)} browser test(s) failed")
        sys.exit(1)
    print("all browser tests passed")


if __name__ == "__main__":
    main()
