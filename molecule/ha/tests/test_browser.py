"""The UI in a real browser (Debian's chromium, driven by Selenium) through
the floating name of the load balancers (https://prefect.ha.test, the UI's
API URL, mapped to the floating address): the login page asks for the credentials and
lets the team in, and the load balancer's Content-Security-Policy keeps the
browser from contacting anything but the site. The v2 UI's analytics library
calls sr-client-cfg.amplitude.com on every page whatever Prefect's analytics
setting; a control run with the policy bypassed shows the test would see it.

Nothing leaves the machine either way: the browser has no proxy and resolves
no name but through its own rules (the floating name; every other: not
found)."""

import base64
import hashlib
import json
import ssl
import time
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from ha_cluster import FLOATING_ADDRESS, FLOATING_NAME

SITE = f"https://{FLOATING_NAME}"
ANALYTICS_HOST = "sr-client-cfg.amplitude.com"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def lb_key_pin():
    """The SPKI hash of the certificate of the load balancer that holds the
    floating address: the browser, which does not know the scenario's CA,
    accepts that key and no other."""
    pem = ssl.get_server_certificate((FLOATING_ADDRESS, 443))
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--no-proxy-server", f"--host-resolver-rules=MAP {FLOATING_NAME} {FLOATING_ADDRESS}, MAP * ~NOTFOUND",
                     f"--ignore-certificate-errors-spki-list={lb_key_pin()}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


class Visit:
    """One browser session's request log and console, as DevTools reports them."""

    def __init__(self, driver):
        self.driver = driver
        self.requests = {}   # request id -> URL
        self.with_credentials = set()  # request ids sent with an Authorization header
        self.responses = {}  # request id -> HTTP status
        self.failures = {}   # request id -> (error text, blocked reason)
        self.console = []

    def collect(self):
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.requests[params["requestId"]] = params["request"]["url"]
                if any(name.lower() == "authorization" for name in params["request"].get("headers", {})):
                    self.with_credentials.add(params["requestId"])
            elif message["method"] == "Network.responseReceived":
                self.responses[params["requestId"]] = params["response"]["status"]
            elif message["method"] == "Network.loadingFailed":
                self.failures[params["requestId"]] = (params.get("errorText"), params.get("blockedReason"))
        self.console += [entry["message"] for entry in self.driver.get_log("browser")]

    def wait_for(self, condition, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.collect()
            if condition():
                return
            time.sleep(0.5)
        raise TimeoutException(f"timed out; requests seen: {sorted(set(self.requests.values()))}")

    def off_site(self):
        return {rid: url for rid, url in self.requests.items()
                if urlsplit(url).scheme in ("http", "https", "ws", "wss") and not url.startswith(SITE)}

    def analytics_requested(self):
        return any(urlsplit(url).hostname == ANALYTICS_HOST for url in self.requests.values())

    def analytics_refused(self):
        return any("Content Security Policy" in line and ANALYTICS_HOST in line for line in self.console)

    def api_answers(self):
        """The statuses of the API calls made with the credentials (a call
        the login page made without them, answered 401, is not one)."""
        return [self.responses.get(rid) for rid, url in self.requests.items()
                if url.startswith(f"{SITE}/api/") and rid in self.with_credentials]


def log_in(bypass_policy, auth_string, page_loaded):
    """Open the dashboard, log in on the login page, and collect until
    page_loaded(visit) holds."""
    driver = start_browser()
    try:
        if bypass_policy:
            driver.execute_cdp_cmd("Page.setBypassCSP", {"enabled": True})
        visit = Visit(driver)
        # What a user types: the server sends a browser without a saved
        # preference on to the v2 UI (/v2/), which asks for the login.
        driver.get(f"{SITE}/")
        field = WebDriverWait(driver, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, "input[type=password]"))
        assert urlsplit(driver.current_url).path == "/v2/login", driver.current_url
        assert field.get_attribute("placeholder") == "admin:pass", "the login page asks for user:password"
        field.send_keys(auth_string)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 60).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "input[type=password]"))
        visit.wait_for(lambda: page_loaded(visit))
        visit.storage = driver.execute_script("return window.localStorage.getItem('prefect-password')")
        visit.final_url = driver.current_url
        return visit
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def with_policy(auth_string):
    return log_in(False, auth_string,
                  lambda visit: visit.analytics_refused() and visit.api_answers().count(200) >= 3)


def test_the_login_page_lets_the_team_in_through_the_load_balancer(with_policy, auth_string):
    # The UI keeps the credentials the way it sends them (basic auth), and
    # the API calls it makes with them succeed (before the login: 401).
    assert base64.b64decode(with_policy.storage).decode() == auth_string
    answers = with_policy.api_answers()
    assert answers.count(200) >= 3, answers
    assert 401 not in answers, answers
    assert urlsplit(with_policy.final_url).path == "/v2/dashboard", with_policy.final_url


def test_the_browser_contacts_nothing_but_the_site(with_policy):
    # Chromium lists a request the policy refused, and fails it with
    # blockedReason "csp" before any connection: nothing off-site answered.
    off_site = with_policy.off_site()
    assert not set(off_site) & set(with_policy.responses), off_site
    assert all(with_policy.failures.get(rid, (None, None))[1] == "csp" for rid in off_site), \
        {off_site[rid]: with_policy.failures.get(rid) for rid in off_site}
    assert with_policy.analytics_refused()


def test_the_policy_refuses_nothing_the_ui_needs(with_policy):
    refused = [line for line in with_policy.console
               if "Content Security Policy" in line and "amplitude.com" not in line]
    assert not refused, refused


def test_without_the_policy_the_ui_calls_the_analytics_service(auth_string):
    # The control: the same login with the policy bypassed sends the
    # request (the browser's rules keep it from resolving the name).
    visit = log_in(True, auth_string, lambda visit: visit.analytics_requested())
    assert not visit.analytics_refused()
    analytics = [rid for rid, url in visit.requests.items() if urlsplit(url).hostname == ANALYTICS_HOST]
    assert all(visit.failures.get(rid, (None, None))[1] != "csp" for rid in analytics)
    assert not set(analytics) & set(visit.responses)
