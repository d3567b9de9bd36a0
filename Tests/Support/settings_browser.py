#!/usr/bin/env python3
"""Drives the subscriber's settings page in headless Chromium (Selenium + chromedriver).

Usage: settings_browser.py EML DUMP_COMMAND SCREENSHOT_DIR

Takes the personal settings link from the mail EML (as a mail client shows it: the decoded
text part), then, as the subscriber would: opens the page at 1280 and 390 pixels wide (a
screenshot of each goes to SCREENSHOT_DIR), checks that a wrong token and a forged CSRF token
change nothing (the store's rows before and after, as DUMP_COMMAND, a JSON list of a program
and its arguments such as ["sqlite3", "var/eventfilter.db", ".dump"], prints them), switches delivery from "at once"
to a weekly digest on Monday 07:30 in America/New_York, and stops the subscription to node 61.

Prints one JSON object of what it saw for the XCTest to judge; exits 1 with the reason on stderr
when it could not get that far. Every wait is bounded; if Chromium cannot start, that is the reason.
"""
import email
import email.policy
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

EML, DUMP_COMMAND, SHOTS = sys.argv[1:4]
DUMP_COMMAND = json.loads(DUMP_COMMAND)
TIMEOUT = 20
seen = {}


def fail(reason):
    print(json.dumps(seen, indent=1))
    sys.stderr.write("settings_browser: " + reason + "\n")
    sys.exit(1)


def check(condition, reason):
    if not condition:
        fail(reason)


def dump():
    return subprocess.run(DUMP_COMMAND, capture_output=True, text=True, check=True, timeout=30).stdout


def http(method, url, body=None):
    """Status, headers and body of one request, without the browser (for what a page cannot show)."""
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


# The link, as the reader sees it in the text part.
with open(EML, "rb") as handle:
    message = email.message_from_binary_file(handle, policy=email.policy.default)
text = message.get_body(preferencelist=("plain",)).get_content()
match = re.search(r"https?://\S+/settings/[A-Za-z0-9_-]{43}", text)
check(match is not None, "no settings link in the mail's text part")
link = match.group(0)
base = link.rsplit("/", 1)[0]
seen["link_host"] = link.split("/")[2]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", "--lang=en-US"):
    options.add_argument(argument)
try:
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
except Exception as error:  # the reason Chromium could not start is the test's failure
    fail("Chromium did not start: " + str(error).strip().splitlines()[0])
driver.set_page_load_timeout(TIMEOUT)
driver.set_script_timeout(TIMEOUT)
wait = WebDriverWait(driver, TIMEOUT)


def gone(element):
    """True once `element` no longer belongs to the shown page. While the answer replaces the page,
    chromedriver may report the old node as "does not belong to the document" (an unknown
    error, not a stale reference): that is gone too."""
    def check(_):
        try:
            return expected_conditions.staleness_of(element)(driver)
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
    return check


def submit(button):
    """Clicks a form's button and waits until the answer has replaced the page."""
    old_page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    wait.until(gone(old_page))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


try:
    # The page, wide and phone-width.
    driver.get(link)
    seen["title"] = driver.title
    seen["follows"] = [li.text.replace("\n", " | ") for li in driver.find_elements(By.CSS_SELECTOR, "#follows li")]
    seen["collaborations"] = [li.text.replace("\n", " | ") for li in driver.find_elements(By.CSS_SELECTOR, "#collaborations li")]
    seen["delivery_before"] = driver.find_element(By.ID, "delivery").text
    driver.save_screenshot(SHOTS + "/settings-1280.png")
    driver.set_window_size(390, 844)
    driver.get(link)
    seen["scroll_width_390"] = driver.execute_script("return document.documentElement.scrollWidth")
    driver.save_screenshot(SHOTS + "/settings-390.png")
    driver.set_window_size(1280, 900)
    status, headers, _ = http("GET", link)
    seen["get_status"] = status
    seen["headers"] = {name: headers.get(name) for name in
                       ("Cache-Control", "Referrer-Policy", "X-Frame-Options", "Content-Security-Policy")}

    # A wrong token: the same answer as a path that does not exist, and nothing changes.
    before = dump()
    wrong = base + "/" + ("A" * 43)
    driver.get(wrong)
    seen["wrong_token_text"] = driver.find_element(By.TAG_NAME, "body").text
    seen["wrong_token_get"] = http("GET", wrong)[0]
    seen["wrong_token_post"] = http("POST", wrong, "action=stop-all&csrf=x")[0]
    seen["unknown_path"] = http("GET", base + "/no/such/page")[0]
    seen["unknown_path_body_same"] = http("GET", base + "/no/such/page")[2] == http("GET", wrong)[2]
    seen["wrong_token_unchanged"] = dump() == before
    # The README's location serves the settings paths and nothing beside them.
    status, _, body = http("GET", base + "x")
    seen["outside_location"] = "%d from %s" % (status, "nginx" if "nginx" in body else "the responder")
    status, headers, _ = http("GET", base + "/%0A" + "A" * 43)
    seen["line_break_path"] = "%d, CSP %s" % (status, headers.get("Content-Security-Policy"))

    # A forged CSRF token on a real page: refused, nothing changes.
    driver.get(link)
    driver.execute_script(
        "document.querySelectorAll('input[name=csrf]').forEach(function (e) { e.value = 'forged' + e.value.slice(6); })")
    submit(driver.find_element(By.ID, "stop-all"))
    seen["forged_text"] = driver.find_element(By.ID, "error").text
    seen["forged_unchanged"] = dump() == before

    # At once -> weekly on Monday 07:30 in America/New_York.
    driver.get(link)
    driver.find_element(By.CSS_SELECTOR, "input[name=delivery][value=weekly]").click()
    Select(driver.find_element(By.NAME, "weekday")).select_by_visible_text("Monday")
    clock = driver.find_element(By.NAME, "time")
    clock.send_keys("0730AM")
    seen["time_typed"] = clock.get_attribute("value")
    Select(driver.find_element(By.NAME, "timezone")).select_by_visible_text("America/New_York")
    submit(driver.find_element(By.ID, "save"))
    seen["saved_notice"] = driver.find_element(By.ID, "notice").text
    seen["delivery_after"] = driver.find_element(By.ID, "delivery").text

    # Stop following node 61.
    submit(driver.find_element(By.ID, "stop-61"))
    seen["stopped_notice"] = driver.find_element(By.ID, "notice").text
    seen["follows_after"] = [li.text.replace("\n", " | ") for li in driver.find_elements(By.CSS_SELECTOR, "#follows li")]
finally:
    driver.quit()

print(json.dumps(seen, indent=1))
