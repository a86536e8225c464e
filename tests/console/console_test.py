#!/usr/bin/env python3
"""The web console in a real headless browser (Debian's chromium through
chromium-driver and selenium), against a running tokend, as a person uses
it: log in, generate a scoped token through the form, see its secret once,
exchange it over HTTP, regenerate and revoke it, bind one to networks; and
as an attacker would:
a forged POST without the CSRF token, a member without the right. Then a
second factor: enrolling with the QR code's key (codes computed by pyotp),
the login's second step, and an org policy that sends an unenrolled admin
to the enrolment page and nowhere else. axe-core checks each page; a screenshot of each page goes to the screenshot folder.

Usage: console_test.py BASE_URL ADMIN_PASSWORD MEMBER_PASSWORD AXE_JS SCREENSHOT_DIR ALICE_TOKEN

MEMBER_PASSWORD is the password of member@acme (Organization Member),
carol@acme (Organization Administrator) and alice@acme (Token User), whose
API token ALICE_TOKEN is.
Exits non-zero on the first failed check, saying which.
"""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pyotp
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

BASE, ADMIN_PASSWORD, MEMBER_PASSWORD, AXE_JS, SHOTS, ALICE_TOKEN = sys.argv[1:7]
AXE = open(AXE_JS, encoding="utf-8").read()


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok - {what}")


def http(method, path, form=None, cookie=None, origin=None):
    """A plain HTTP request: (status, body)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    if cookie:
        request.add_header("Cookie", cookie)
    if origin:
        request.add_header("Origin", origin)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def http_json(method, path, body=None, bearer=None, basic=None):
    """A JSON API call: (status, parsed body, or the session's access
    token for a login)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if bearer:
        request.add_header("Authorization", f"Bearer {bearer}")
    if basic:
        pair = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            if basic:
                return answer.status, answer.headers["X-VMWARE-VCLOUD-ACCESS-TOKEN"]
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def exchange(secret):
    return http("POST", "/oauth/provider/token",
                {"grant_type": "refresh_token", "refresh_token": secret})


def browser(width=1280, javascript=True):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", f"--window-size={width},1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(driver.get_window_size()["width"], max(600, min(height + 40, 2400)))
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def accessible(driver, page):
    """No axe-core violation of serious or critical impact on the page, and
    the page under 60 KB."""
    size = len(driver.execute_script("return document.documentElement.outerHTML").encode())
    check(size < 60_000, f"{page}: under 60 KB ({size} bytes)")
    driver.execute_script(AXE)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations.map(v => [v.id, v.impact, v.nodes.map(n => n.target.join(' '))]))))"
        ".catch(e => done(JSON.stringify([['axe failed', String(e)]])));")
    bad = [v for v in json.loads(result) if v[1] in ("serious", "critical", None)]
    check(not bad, f"{page}: no serious or critical accessibility violation {bad}")


def wait_for(driver, css):
    """The element, once the page that shows it has loaded."""
    return WebDriverWait(driver, 10).until(
        until.presence_of_element_located((By.CSS_SELECTOR, css)))


def wait_for_url(driver, ending):
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith(ending))


def session_cookie(driver):
    cookie = driver.get_cookie("tokend-session")
    return f"tokend-session={cookie['value']}" if cookie else None


def csrf_of(driver):
    return driver.find_element(By.CSS_SELECTOR, "form.logout input[name=csrf]").get_attribute("value")


def log_in(driver, org, user, password, here=False):
    if not here:
        driver.get(BASE + "/console/login")
    driver.find_element(By.ID, "org").send_keys(org)
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()


def generate(driver, name, ttl, role):
    driver.get(BASE + "/console/tokens/new")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.CSS_SELECTOR, f"input[name=ttl][value='{ttl}']").click()
    driver.find_element(By.CSS_SELECTOR, "input[name=scope][value=roles]").click()
    driver.find_element(By.CSS_SELECTOR, f"input[name=org_role][value='{role}']").click()
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    return wait_for(driver, "#secret").get_attribute("value")


def main():
    driver = browser()
    try:
        driver.get(BASE + "/console/")
        check("/console/login" in driver.current_url, "the console sends a stranger to log in")
        accessible(driver, "login")
        shot(driver, "login")

        log_in(driver, "System", "administrator", "wrong password")
        wait_for(driver, "p.error")
        check("wrong user, organization or password" in driver.page_source,
              "a wrong password is refused in words")
        log_in(driver, "System", "administrator", ADMIN_PASSWORD)
        wait_for_url(driver, "/console/tokens")
        check(driver.current_url.endswith("/console/tokens"), "logged in, on the token page")
        check("No API tokens yet." in driver.page_source, "no tokens yet")
        cookie = driver.get_cookie("tokend-session")
        check(cookie["httpOnly"] and cookie["sameSite"] == "Strict",
              "the session cookie is HttpOnly and SameSite=Strict")

        driver.get(BASE + "/console/tokens/new")
        accessible(driver, "generate form")
        shot(driver, "generate")
        driver.find_element(By.ID, "name").send_keys("bad-lifetime")
        driver.find_element(By.CSS_SELECTOR, "input[name=ttl][value=custom]").click()
        driver.find_element(By.NAME, "ttl_custom").send_keys("soon")
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        error = wait_for(driver, "fieldset p.error")
        check("is not a duration" in error.text and error.get_attribute("id") == "ttl-error",
              "a bad lifetime is refused beside its field, in the API's words")
        accessible(driver, "generate form with an error")
        secret = generate(driver, "ci-deploy", "30days", "System Administrator")
        check(len(secret) == 65 and secret.isalnum(), "the secret is shown once, 65 characters")
        check(secret not in driver.current_url, "the secret is not in the URL")
        accessible(driver, "secret page")
        shot(driver, "secret")
        copy = driver.find_element(By.CSS_SELECTOR, "button[data-copy]")
        copy.click()
        WebDriverWait(driver, 5).until(lambda d: copy.text == "Copied")
        selected = driver.execute_script(
            "const f = document.getElementById('secret');"
            "return f.value.substring(f.selectionStart, f.selectionEnd);")
        check(selected == secret, "Copy takes the whole secret")
        status, body = exchange(secret)
        check(status == 200 and "access_token" in body, "the new token is exchanged over HTTP")
        payload = json.loads(body)["access_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        check(claims["roles"] == ["System Administrator"], "its access token carries the role chosen")

        driver.refresh()
        WebDriverWait(driver, 10).until(
            lambda d: "no longer shown" in d.page_source or "Confirm" in d.title)
        check(secret not in driver.page_source, "a reload does not show the secret again")
        check("no longer shown" in driver.page_source, "a reload says the secret is no longer shown")
        driver.back()
        check(secret not in driver.page_source, "the back button does not show the secret")

        driver.get(BASE + "/console/tokens")
        check("ci-deploy" in driver.page_source and secret not in driver.page_source,
              "afterwards, the name only")
        check("System Administrator" in driver.page_source, "its scope shows as a chip")
        accessible(driver, "token list")
        shot(driver, "tokens")

        # A service role narrowed to one of its permissions.
        driver.get(BASE + "/console/tokens/new")
        driver.find_element(By.ID, "name").send_keys("sddc-reader")
        driver.find_element(By.CSS_SELECTOR, "input[name=scope][value=roles]").click()
        driver.find_element(By.CSS_SELECTOR, "input[name=service_role][value='vmc/operator']").click()
        driver.find_element(By.CSS_SELECTOR, "input[name=permission][value='vmc/operator|vmc:sddc.read']").click()
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        narrowed = wait_for(driver, "#secret").get_attribute("value")
        status, body = exchange(narrowed)
        payload = json.loads(body)["access_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        check(status == 200 and "vmc:sddc.read" in claims["perms"] and "vmc:sddc.write" not in claims["perms"],
              f"a service role narrowed to one permission carries that one only ({claims['perms']})")
        driver.get(BASE + "/console/tokens")
        driver.find_element(By.XPATH, "//tr[contains(., 'sddc-reader')]//a[text()='Revoke']").click()
        wait_for(driver, "form.card button.danger").click()
        wait_for_url(driver, "/console/tokens")

        # Regenerate: a new secret, the old one refused at once.
        driver.find_element(By.CSS_SELECTOR, ".actions form button").click()
        WebDriverWait(driver, 10).until(until.alert_is_present())
        driver.switch_to.alert.accept()
        fresh = wait_for(driver, "#secret").get_attribute("value")
        check(fresh != secret, "regenerating shows a new secret")
        check(exchange(secret)[0] == 400, "the old secret is refused after regenerating")
        check(exchange(fresh)[0] == 200, "the regenerated secret is exchanged")

        # Revoke, with a confirmation naming the token.
        driver.get(BASE + "/console/tokens")
        driver.find_element(By.LINK_TEXT, "Revoke").click()
        wait_for(driver, "form.card button.danger")
        check("ci-deploy" in driver.find_element(By.TAG_NAME, "h1").text,
              "the confirmation names the token")
        accessible(driver, "revoke confirmation")
        shot(driver, "revoke")
        driver.find_element(By.CSS_SELECTOR, "form.card button.danger").click()
        wait_for_url(driver, "/console/tokens")
        check(exchange(fresh)[0] == 400, "a revoked token is refused")
        check("No API tokens yet." in driver.page_source, "the revoked token leaves the active list")
        driver.find_element(By.LINK_TEXT, "Expired and revoked").click()
        WebDriverWait(driver, 10).until(lambda d: "state=inactive" in d.current_url)
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        check(len(rows) == 3 and all("revoked" in row.text for row in rows),
              "nothing vanishes: the regenerated and the revoked tokens are under their tab")
        check(not driver.find_elements(By.CSS_SELECTOR, ".actions"), "an inactive token offers no action")

        # Forged requests change nothing.
        cookie = session_cookie(driver)
        status, _ = http("POST", "/console/tokens", {"name": "forged", "scope": "all"}, cookie)
        check(status == 403, "a POST without the CSRF token is refused")
        status, _ = http("POST", "/console/tokens",
                         {"name": "forged", "scope": "all", "csrf": csrf_of(driver)}, cookie,
                         origin="https://attacker.example")
        check(status == 403, "a POST from another origin is refused")
        driver.get(BASE + "/console/tokens")
        check("forged" not in driver.page_source, "the forged requests made no token")

        # What the administrator holds, and through what.
        driver.find_element(By.LINK_TEXT, "Roles and rights").click()
        wait_for(driver, "table")
        check("System Administrator" in driver.page_source and "Audit: View" in driver.page_source,
              "the roles page shows the role held and the rights in force")
        through = {row.find_element(By.CSS_SELECTOR, "td[data-label=Role]").text:
                   row.find_element(By.CSS_SELECTOR, "td[data-label=Through]").text
                   for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr")}
        check(through.get("System Administrator") == "direct" and through.get("Token User") == "group ops",
              f"and through what each role is held ({through})")
        accessible(driver, "roles and rights")
        shot(driver, "account")

        # The audit trail, with the API's filters.
        driver.find_element(By.LINK_TEXT, "Audit trail").click()
        wait_for(driver, "form.filters")
        driver.find_element(By.ID, "type").send_keys("token.revoke")
        driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
        WebDriverWait(driver, 10).until(lambda d: "type=token.revoke" in d.current_url)
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        # Regenerating is a rotation (token.rotate), not a revocation.
        check(len(rows) == 2 and all("token.revoke" in r.text for r in rows)
              and sum("ci-deploy" in r.text for r in rows) == 1,
              "the audit page lists the two revocations, filtered by type")
        check(secret not in driver.page_source and fresh not in driver.page_source,
              "no secret in the trail")
        accessible(driver, "audit trail")
        shot(driver, "audit")

        # The token policy: the provider tightens the default; the generate
        # form follows it; a bad value is refused in the API's words.
        driver.find_element(By.LINK_TEXT, "Token policy").click()
        wait_for(driver, "#default-max")
        driver.find_element(By.ID, "default-max").send_keys("90days")
        driver.find_element(By.CSS_SELECTOR, "#default-never option[value=no]").click()
        driver.find_element(By.CSS_SELECTOR, "#default-max").submit()
        WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.ID, "default-max").get_attribute("value") == "90days")
        check("not allowed" in driver.page_source, "the default is saved and shown")
        accessible(driver, "token policy")
        shot(driver, "policy")
        driver.get(BASE + "/console/tokens/new")
        offered = [e.get_attribute("value") for e in driver.find_elements(By.CSS_SELECTOR, "input[name=ttl]")]
        check("1year" not in offered and "never" not in offered and "90days" in offered,
              f"the generate form offers only what the policy allows ({offered})")
        driver.get(BASE + "/console/policy")
        field = wait_for(driver, "#default-idle")
        field.send_keys("soon")
        field.submit()
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.error"))
        check("max_idle" in driver.find_element(By.CSS_SELECTOR, "p.error").text,
              "a bad value is refused in the API's words")

        check("Network binding" in driver.page_source,
              "the policy page shows whether tokens must be bound to networks")

        # Network binding: the generate form takes networks; a bad CIDR is
        # refused beside its field in the API's words; the token list shows
        # "any network" or the networks.
        driver.get(BASE + "/console/tokens/new")
        driver.find_element(By.ID, "name").send_keys("bad-network")
        driver.find_element(By.ID, "bound_cidrs").send_keys("10.0.0.1/8")
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        error = wait_for(driver, "#networks-error")
        check("10.0.0.0/8" in error.text,
              f"a CIDR with host bits set is refused beside its field ({error.text})")
        driver.find_element(By.ID, "name").send_keys("office-only")
        driver.find_element(By.ID, "bound_cidrs").send_keys("127.0.0.2\n2001:db8::/32")
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        office = wait_for(driver, "#secret").get_attribute("value")
        check(exchange(office)[0] == 400, "a token bound to 127.0.0.2 is refused from 127.0.0.1")
        generate(driver, "anywhere", "30days", "System Administrator")
        driver.get(BASE + "/console/tokens")
        networks = {row.find_element(By.CSS_SELECTOR, "td[data-label=Name]").text:
                    row.find_element(By.CSS_SELECTOR, "td[data-label=Networks]").text
                    for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr")}
        check(networks.get("office-only") == "127.0.0.2/32, 2001:db8::/32"
              and networks.get("anywhere") == "any network",
              f"the token list shows each token's networks ({networks})")
        accessible(driver, "token list with networks")
        shot(driver, "tokens-networks")

        # Narrow screens.
        driver.set_window_size(375, 900)
        driver.get(BASE + "/console/tokens/new")
        shot(driver, "generate-375px")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        check(width <= 380, f"readable at 375 px without sideways scrolling ({width})")
        driver.set_window_size(1280, 1000)

        driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
        WebDriverWait(driver, 10).until(lambda d: "/console/login" in d.current_url)
        check(True, "logged out")
        check(http("GET", "/console/tokens", cookie=cookie)[0] == 303,
              "the ended session's cookie opens nothing")
    finally:
        driver.quit()

    # A member without "Manage user's own API token", logging in by
    # keyboard alone.
    driver = browser()
    try:
        driver.get(BASE + "/console/login")
        keys = ActionChains(driver)
        for _ in range(10):
            keys.send_keys(Keys.TAB).perform()
            if driver.switch_to.active_element.get_attribute("id") == "org":
                break
        check(driver.switch_to.active_element.get_attribute("id") == "org",
              "Tab reaches the login form")
        keys.send_keys("acme", Keys.TAB, "member", Keys.TAB, MEMBER_PASSWORD, Keys.ENTER).perform()
        wait_for_url(driver, "/console/tokens")
        check(True, "the login form works by keyboard alone")
        check(driver.current_url.endswith("/console/tokens"), "the member is logged in")
        check(not driver.find_elements(By.LINK_TEXT, "Generate a new API token"),
              "a member without the right sees no Generate button")
        status, body = http("POST", "/console/tokens",
                            {"name": "forged", "scope": "all", "csrf": csrf_of(driver)},
                            session_cookie(driver))
        check(status == 403 and "Manage user" in body,
              "a member's forged POST is refused by the right it lacks")
        driver.get(BASE + "/console/tokens")
        check("forged" not in driver.page_source, "and made no token")
    finally:
        driver.quit()
    # Every page works without JavaScript: log in, generate, see the
    # secret, revoke after the confirmation page.
    driver = browser(javascript=False)
    try:
        log_in(driver, "acme", "carol", MEMBER_PASSWORD)
        wait_for_url(driver, "/console/tokens")
        plain = generate(driver, "no-script", "1day", "Organization Administrator")
        check(len(plain) == 65, "without JavaScript, the form makes a token and shows its secret")
        shown = driver.find_element(By.CSS_SELECTOR, "time").text
        check(shown.endswith("Z"), f"without JavaScript, times stay in UTC ({shown})")
        driver.get(BASE + "/console/tokens")
        driver.find_element(By.XPATH, "//tr[contains(., 'no-script')]//a[text()='Revoke']").click()
        wait_for(driver, "form.card button.danger").click()
        wait_for_url(driver, "/console/tokens")
        check("no-script" not in driver.find_element(By.TAG_NAME, "main").text,
              "without JavaScript, a token is revoked after its confirmation page")
        check(exchange(plain)[0] == 400, "and it is refused")
    finally:
        driver.quit()

    # An org admin revokes another user's token from the inventory.
    check(http("POST", "/oauth/tenant/acme/token",
               {"grant_type": "refresh_token", "refresh_token": ALICE_TOKEN})[0] == 200,
          "alice's token works")
    driver = browser()
    try:
        log_in(driver, "acme", "carol", MEMBER_PASSWORD)
        wait_for_url(driver, "/console/tokens")
        driver.find_element(By.LINK_TEXT, "All tokens").click()
        wait_for(driver, "form.filters")
        check("nightly" in driver.page_source and ALICE_TOKEN not in driver.page_source,
              "the inventory names alice's token, never its secret")
        accessible(driver, "inventory")
        shot(driver, "inventory")
        driver.find_element(By.ID, "owner").send_keys("alice")
        driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
        WebDriverWait(driver, 10).until(lambda d: "owner=alice" in d.current_url)
        driver.find_element(By.CSS_SELECTOR, "input[name=token]").click()
        driver.find_element(By.CSS_SELECTOR, "button.danger").click()
        WebDriverWait(driver, 10).until(lambda d: "Revoke 1 API tokens?" in d.page_source)
        check("nightly" in driver.page_source, "the confirmation names the token and its owner")
        driver.find_element(By.CSS_SELECTOR, "form.card button.danger").click()
        WebDriverWait(driver, 10).until(lambda d: "No tokens match." in d.page_source)
        driver.find_element(By.CSS_SELECTOR, "#state option[value=inactive]").click()
        driver.find_element(By.CSS_SELECTOR, "#sort option[value=expires]").click()
        driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
        WebDriverWait(driver, 10).until(lambda d: "state=inactive" in d.current_url)
        wait_for(driver, "tbody tr")
        rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr")]
        check(any("nightly" in row and "revoked" in row for row in rows),
              f"the revoked token is under the inventory's inactive state ({rows})")
        check(rows[0].find("no-script") >= 0,
              "sorted by expiry, the token that expires soonest comes first")
    finally:
        driver.quit()
    check(http("POST", "/oauth/tenant/acme/token",
               {"grant_type": "refresh_token", "refresh_token": ALICE_TOKEN})[0] == 400,
          "alice's token is refused once the org admin revoked it")
    driver = browser()
    try:
        log_in(driver, "acme", "member", MEMBER_PASSWORD)
        wait_for_url(driver, "/console/tokens")
        check(not driver.find_elements(By.LINK_TEXT, "All tokens"), "a member sees no inventory link")
        driver.get(BASE + "/console/inventory")
        check("this needs the right" in driver.page_source,
              "and is refused the inventory in the API's words")
    finally:
        driver.quit()

    # A service account's client asks for access; an admin approves it on
    # the page the device flow names, after logging in there.
    status, answer = http_json("POST", "/cloudapi/1.0.0/sessions/provider",
                               basic=("administrator@System", ADMIN_PASSWORD))
    check(status == 200, "the API logs the administrator in")
    status, registered = http_json("POST", "/oauth/provider/register", bearer=answer,
                                   body={"client_name": "backup", "software_id": "backup-agent",
                                         "software_version": "2.1"})
    check(status == 200, "a service account is registered over the API")
    client_id = registered["client_id"]
    status, body = http("POST", "/oauth/provider/device_authorization", {"client_id": client_id})
    codes = json.loads(body)
    check(status == 200 and codes["verification_uri"].endswith("/console/device"),
          "the device flow names the console's approval page")
    device_token = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    "client_id": client_id, "device_code": codes["device_code"]}
    status, body = http("POST", "/oauth/provider/token", device_token)
    check(status == 400 and json.loads(body)["error"] == "authorization_pending",
          "the client waits for an admin")
    driver = browser()
    try:
        driver.get(codes["verification_uri_complete"])
        WebDriverWait(driver, 10).until(lambda d: "/console/login" in d.current_url)
        check("/console/login" in driver.current_url, "the approval page asks a stranger to log in first")
        log_in(driver, "System", "administrator", ADMIN_PASSWORD, here=True)
        WebDriverWait(driver, 10).until(lambda d: "/console/device" in d.current_url)
        heading = wait_for(driver, "h1")
        check("backup" in heading.text, f"after logging in, the request it was opened for ({heading.text})")
        check("backup-agent" in driver.page_source, "the page names the client's software_id")
        accessible(driver, "device approval")
        shot(driver, "device")
        driver.find_element(By.CSS_SELECTOR, "select#role option[value='Token User']").click()
        driver.find_element(By.CSS_SELECTOR, "button[name=decision][value=grant]").click()
        WebDriverWait(driver, 10).until(lambda d: "Access granted" in d.page_source)
        check(True, "granted on the page")
        driver.get(BASE + "/console/service-accounts")
        row = wait_for(driver, "tbody tr")
        check("backup" in row.text and "GRANTED" in row.text and "Token User" in row.text,
              f"the service accounts page shows it granted, with its role ({row.text})")
        accessible(driver, "service accounts")
        shot(driver, "service-accounts")
    finally:
        driver.quit()
    status, body = http("POST", "/oauth/provider/token", device_token)
    check(status == 200 and "access_token" in json.loads(body),
          "the client's next poll is answered with its token")
    refresh = json.loads(body)["refresh_token"]

    # The admin revokes its access, then deletes it, from the console.
    driver = browser()
    try:
        log_in(driver, "System", "administrator", ADMIN_PASSWORD)
        wait_for_url(driver, "/console/tokens")
        driver.get(BASE + "/console/service-accounts")
        row = wait_for(driver, "tbody tr")
        check("ACTIVE" in row.text, f"the account is active once its client took its token ({row.text})")
        driver.find_element(By.XPATH, "//button[text()='Revoke access']").click()
        WebDriverWait(driver, 10).until(until.alert_is_present())
        driver.switch_to.alert.accept()
        WebDriverWait(driver, 10).until(lambda d: "CREATED" in d.find_element(By.CSS_SELECTOR, "tbody tr").text)
        check(True, "revoking its access sets it back to CREATED")
        status, _ = http("POST", "/oauth/provider/token",
                         {"grant_type": "refresh_token", "refresh_token": refresh})
        check(status == 400, "and its client's token is refused")
        driver.find_element(By.XPATH, "//button[text()='Delete']").click()
        WebDriverWait(driver, 10).until(until.alert_is_present())
        driver.switch_to.alert.accept()
        WebDriverWait(driver, 10).until(lambda d: "No service accounts." in d.page_source)
        check(True, "a deleted service account is gone")
    finally:
        driver.quit()
    second_factor()
    print("console: every check passed")


def second_factor():
    """member@acme enrols and logs in with a code; carol@acme, an admin,
    must enrol once the org requires it of admins."""
    driver = browser()
    try:
        log_in(driver, "acme", "member", MEMBER_PASSWORD)
        wait_for_url(driver, "/console/tokens")
        driver.get(BASE + "/console/2fa")
        accessible(driver, "two-factor login")
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        key = wait_for(driver, "#secret").get_attribute("value")
        check(driver.find_elements(By.CSS_SELECTOR, "figure.qr svg"),
              "the enrolment page shows a QR code, drawn by the server")
        check(len(key) == 32, "and the key as text, 160 bits in base32")
        accessible(driver, "two-factor enrolment")
        shot(driver, "two-factor")
        totp = pyotp.TOTP(key)
        driver.find_element(By.ID, "code").send_keys(totp.now())
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        codes = wait_for(driver, "#recovery").get_attribute("value").split()
        check(len(codes) == 10 and len(set(codes)) == 10, "ten recovery codes, shown once")
        accessible(driver, "recovery codes")
        shot(driver, "two-factor-recovery")
        driver.get(BASE + "/console/2fa")
        check("recovery-codes" not in driver.page_source and codes[0] not in driver.page_source,
              "the recovery codes are not shown again")
        driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
        wait_for_url(driver, "/console/login")

        log_in(driver, "acme", "member", MEMBER_PASSWORD)
        wait_for(driver, "input[name=login]")
        check(session_cookie(driver) is None, "a right password alone opens no session")
        accessible(driver, "login's second step")
        shot(driver, "login-code")
        right = totp.at(time.time() + 30)
        wrong = "000000" if right != "000000" else "111111"
        driver.find_element(By.ID, "code").send_keys(wrong)
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        wait_for(driver, "p.error")
        check(session_cookie(driver) is None, "a wrong code opens no session")
        driver.find_element(By.ID, "code").send_keys(right)
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        wait_for_url(driver, "/console/tokens")
        check(session_cookie(driver) is not None, "the right code logs in")
    finally:
        driver.quit()

    status, admin = http_json("POST", "/cloudapi/1.0.0/sessions/provider",
                              basic=("administrator@System", ADMIN_PASSWORD))
    status, orgs = http_json("GET", "/api/org?name=acme", bearer=admin)
    acme = orgs["orgs"][0]["id"]
    status, _ = http_json("PUT", f"/api/org/{acme}/token-policy",
                          {"second_factor": "admins"}, bearer=admin)
    check(status == 200, "the provider requires a second factor of acme's admins")
    driver = browser()
    try:
        log_in(driver, "acme", "carol", MEMBER_PASSWORD)
        wait_for_url(driver, "/console/2fa")
        check("Your organization requires a second factor" in driver.page_source,
              "an unenrolled admin lands on the enrolment page")
        links = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "nav a")]
        check(links == ["Two-factor login"], f"and sees no other page ({links})")
        driver.get(BASE + "/console/tokens")
        wait_for_url(driver, "/console/2fa")
        check(True, "every other page sends it back to enrol")
        status, _ = http("POST", "/console/tokens", {"csrf": csrf_of(driver), "name": "x"},
                         cookie=session_cookie(driver))
        check(status == 403, "its session cannot make an API token")
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        key = wait_for(driver, "#secret").get_attribute("value")
        driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(key).now())
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        wait_for(driver, "#recovery")
        driver.get(BASE + "/console/tokens")
        wait_for_url(driver, "/console/tokens")
        check(True, "once enrolled, the same session reaches every page")
    finally:
        driver.quit()
    http_json("PUT", f"/api/org/{acme}/token-policy", {}, bearer=admin)


if __name__ == "__main__":
    main()
