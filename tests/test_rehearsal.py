"""README's "Rehearse your own model on the sandbox", run as written: the README's predict() (the few lines around
the template) deployed with `python -m sandbox deploy`, the monitor attached and both data sources created with the
sandbox's verbs and Domino's API, then steps 3 to 6; step 3 finds the endpoint URL in the monitor's record."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import requests

from sandbox.testing import PROJECT_ROOT

pytestmark = [pytest.mark.e2e]

DATASOURCE = "gt-store"


def readme_block(heading: str, language: str) -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split(heading, 1)[1]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block under {heading}"
    return match.group(1)


def verbs_of(block: str) -> list[str]:
    return re.findall(r"python -m sandbox ([a-z-]+)", block)


def test_rehearse_your_own_model_as_the_readme_says(start_demo):
    rehearsal = readme_block("### Rehearse your own model on the sandbox", "bash")
    assert verbs_of(rehearsal) == ["start", "env", "deploy", "attach-training-set", "create-datasource", "ingest"]
    with start_demo("rehearsal", reuse_export=True) as demo:
        demo.prepare_model()
        demo.register_training_set()
        demo.export_model()
        endpoint = demo.work_dir / "endpoint"
        endpoint.mkdir()
        (endpoint / "my_endpoint.py").write_text(readme_block("### Your endpoint's predict()", "python"))
        for name in ("model.pkl", "monitoring_schema.json"):
            shutil.copy(demo.work_dir / name, endpoint / name)
        shutil.copy(PROJECT_ROOT / "prediction_capture_example.py", endpoint)
        state = ["--state", str(demo.sandbox.state_dir)]

        deployed = json.loads(demo.run("deploy", ["-m", "sandbox", "deploy", *state, "--name", "my-model",
                                                  "--script", "my_endpoint.py", "--workdir", "endpoint"]).stdout)
        demo.deployment = deployed  # its accessToken is exported as DOMINO_MODEL_API_TOKEN from here on
        schema = json.loads((demo.work_dir / "monitoring_schema.json").read_text())
        attached = json.loads(demo.run("attach", [
            "-m", "sandbox", "attach-training-set", *state, "--modelId", deployed["modelId"],
            "--trainingSetName", schema["training_set"]["name"],
            "--trainingSetVersion", str(schema["training_set"]["version"]), "--modelType", "classification"]).stdout)
        demo.run("datasource", ["-m", "sandbox", "create-datasource", *state, "--name", DATASOURCE, "--type", "s3"])
        answer = requests.put(f"{demo.sandbox.url}/model-monitor/v2/api/datasource", headers=demo.sandbox.headers,
                              json={"name": DATASOURCE, "type": "s3",
                                    "config": {"bucket": "ground-truth", "region": "us-east-1"}}, timeout=60)
        answer.raise_for_status()

        step3 = demo.run("step 3", [demo.script("3_setup_monitoring.py"), "-y", "--base-url", demo.sandbox.url,
                                    "--model-id", attached["dmmModelId"], "--datasource", DATASOURCE,
                                    "--test-data", demo.data_dir / "test.csv", "--label-column", demo.target])
        config = json.loads((demo.work_dir / "monitoring_config.json").read_text())
        assert config["model_api"]["endpoint_url"] == deployed["endpointUrl"], step3.stdout  # from the monitor
        demo.generate_predictions(40)
        demo.run("ingest", ["-m", "sandbox", "ingest", *state])
        demo.upload_ground_truth()
        demo.check_monitoring()
        report = json.loads((demo.work_dir / "monitoring_report.json").read_text())
        statuses = {check["name"]: check["status"] for check in report["checks"]}
        assert statuses and all(status in ("PASS", "WARN") for status in statuses.values()), statuses
