"""`mlflow ui` comparison as a person uses it, in headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Selenium; nothing is downloaded).

Two tiny `cig train` runs go into a temporary sqlite store while `mlflow server` starts on
127.0.0.1 and a free port; the browser then opens the experiment list, the runs in the
model-training view, a run page, the sample-grid image card and the compare view. Screenshots
are written to the test's tmp_path. MLflow 3.17's UI opens in its GenAI view unless the
address says `workflowType=machine_learning` (or the user picked "Model training" once in
the sidebar switch, which the browser remembers), so the links carry it.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.cig_k3.tracking.conftest import EPOCHS, REGISTERED, STEPS, new_store, train_tiny

pytestmark = pytest.mark.backend_independent

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SERVER_START_SECONDS = 120  # mlflow server imports a lot; a busy 2-core machine needs the margin
MODEL_TRAINING = "workflowType=machine_learning"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url, process, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"mlflow server did not answer {url} within {seconds} s")


def stop(process):
    """Stop the server and its workers: its own process group, by its PID."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, synthetic_shards):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    folder = tmp_path_factory.mktemp("ui")
    store = new_store(folder / "store")
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    log = open(folder / "server.log", "w")
    # The server starts while the runs train: both take tens of seconds on a small machine.
    server = subprocess.Popen([str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", store, "--workers", "1"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    driver = None
    try:
        first = train_tiny(synthetic_shards, folder / "first", store, register=REGISTERED, seed=0)
        second = train_tiny(synthetic_shards, folder / "second", store, seed=1)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/health", server, SERVER_START_SECONDS)
        options = Options()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1600,1000"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        from mlflow.tracking import MlflowClient

        experiment = MlflowClient(store).get_experiment_by_name("cig").experiment_id
        yield {"driver": driver, "base": base, "runs": (first, second), "experiment": experiment, "store": store}
    finally:
        if driver is not None:
            driver.quit()
        stop(server)
        log.close()


def page(ui, path, *texts, timeout=45):
    """Open `path` and wait until every one of `texts` is shown; returns the page's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = ui["driver"]
    driver.get(ui["base"] + path)

    def shown(_):
        text = driver.find_element(By.TAG_NAME, "body").text
        return text if all(piece in text for piece in texts) else False

    try:
        return WebDriverWait(driver, timeout).until(shown)
    except Exception:
        body = driver.find_element(By.TAG_NAME, "body").text
        missing = [piece for piece in texts if piece not in body]
        raise AssertionError(f"{path}: {missing} not shown; the page says: {body[:1500]!r}") from None


def test_cig_experiment_is_listed(ui, tmp_path):
    text = page(ui, "/#/experiments", "cig")
    assert "Default" in text  # MLflow's own experiment is there too: the runs are not in it
    ui["driver"].save_screenshot(str(tmp_path / "experiments.png"))


def test_runs_show_in_the_model_training_view(ui, tmp_path):
    text = page(ui, f"/#/experiments/{ui['experiment']}/runs?{MODEL_TRAINING}",
                "cig-", "2 matching runs", "Model training", "generator", "synthetic (")
    assert "Evaluation runs" not in text and "Evaluations" not in text  # not filed under GenAI
    ui["driver"].save_screenshot(str(tmp_path / "runs.png"))


def test_run_page_shows_metrics_logged_model_and_dataset(ui, tmp_path):
    first = ui["runs"][0]
    text = page(ui, f"/#/experiments/{ui['experiment']}/runs/{first}?{MODEL_TRAINING}",
                "Metrics (", "val_psnr", "g_l1", "system/cpu_utilization_percentage", "Parameters (")
    assert "generator" in text  # metrics linked to the logged model name it
    assert "synthetic" in text and REGISTERED in text  # the dataset input and the registered model
    ui["driver"].save_screenshot(str(tmp_path / "run.png"))


def test_sample_grids_step_through_training(ui, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page(ui, f"/#/experiments/{ui['experiment']}/runs?{MODEL_TRAINING}&compareRunsMode=CHART", "Model metrics")
    driver = ui["driver"]
    driver.find_element(By.CSS_SELECTOR, "input[placeholder='Search metric charts']").send_keys("samples")
    page_text = driver.find_element(By.TAG_NAME, "body").text
    deadline = time.monotonic() + 30
    while not driver.find_elements(By.CSS_SELECTOR, "[role=slider]") and time.monotonic() < deadline:
        time.sleep(0.5)
    sliders = driver.find_elements(By.CSS_SELECTOR, "[role=slider]")
    assert sliders, f"no image step slider on the chart view: {page_text[:800]!r}"
    slider = sliders[0]
    assert int(float(slider.get_attribute("aria-valuemax"))) == EPOCHS * STEPS  # the last grid's step
    before = slider.get_attribute("aria-valuenow")
    # A person drags the slider's handle (or focuses it and presses arrow keys).
    ActionChains(driver).click_and_hold(slider).move_by_offset(400, 0).release().perform()
    if slider.get_attribute("aria-valuenow") == before:
        driver.switch_to.active_element.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    time.sleep(0.5)
    assert slider.get_attribute("aria-valuenow") != before  # the image view moved to another step
    assert driver.find_elements(By.CSS_SELECTOR, "img[src^='data:image'], img[src*='get-artifact']")
    driver.save_screenshot(str(tmp_path / "samples.png"))


def test_compare_view_shows_params_metrics_and_a_chart(ui, tmp_path):
    from selenium.webdriver.common.by import By

    first, second = ui["runs"]
    driver = ui["driver"]
    page(ui, f'/#/compare-runs?runs=["{first}","{second}"]&experiments=["{ui["experiment"]}"]&{MODEL_TRAINING}',
         "Comparing 2 Runs", "Parameters", "data.crop", "epochs")
    # The metric table sits below the 70 parameter rows: scroll down to it as a person does.
    # It is a virtualised grid: only its first rows (d_fake, d_loss, ...) are in the page.
    driver.execute_script("document.querySelectorAll('*').forEach(e => { if (e.scrollHeight > e.clientHeight) "
                          "e.scrollTop = e.scrollHeight; }); window.scrollTo(0, document.body.scrollHeight);")
    names = ("Metrics", "d_fake", "d_loss", "epoch_d_loss")
    deadline = time.monotonic() + 20
    text = driver.find_element(By.TAG_NAME, "body").text
    while not all(name in text.split("\n") for name in names) and time.monotonic() < deadline:
        time.sleep(0.5)
        text = driver.find_element(By.TAG_NAME, "body").text
    assert all(name in text.split("\n") for name in names), f"metric rows missing: {text[-1500:]!r}"
    assert "cig-" in text
    charts = driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot svg.main-svg")
    assert charts, "the compare view drew no chart"
    driver.execute_script("window.scrollTo(0, 0); document.querySelectorAll('*').forEach(e => e.scrollTop = 0);")
    path = tmp_path / "compare.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a real picture, not a blank page
