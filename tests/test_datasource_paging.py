"""Listing a data source through Domino's own client against the sandbox, whose proxy caps a page like S3 (the
option ``list_page_cap``): ``DataSources.list_keys`` finds every key however many pages it takes."""

from __future__ import annotations

import pytest

from dmm import auth, datasources, domino_clients
from dmm.datasources import DataSources

pytestmark = pytest.mark.e2e


@pytest.fixture
def store(sandbox, monkeypatch):
    for name, value in sandbox.env.items():
        if name.startswith("DOMINO_"):
            monkeypatch.setenv(name, value)
    sandbox.admin("create-datasource", name="paging-store", type="s3")
    credentials = auth.resolve("api-key", env=sandbox.env)
    yield DataSources(factory=lambda: domino_clients.data_source_client(credentials))
    sandbox.admin("monitor-options", list_page_cap=1000)


def test_the_sandbox_caps_a_page_and_list_keys_pages_until_done(sandbox, store, monkeypatch):
    keys = sorted([f"ground_truth/m1/2024-05-{day:02d}/run-{n}.csv" for day in (1, 2, 3) for n in range(4)]
                  + ["ground_truth/m1/2024-05-03/run-3.csv.bak", "ground_truth/m1/2024-05-03/run-3"])
    for key in keys:
        store.upload_bytes("paging-store", key, b"event_id,churned\n1,yes\n")
    store.upload_bytes("paging-store", "elsewhere/x.csv", b"x")
    sandbox.admin("monitor-options", list_page_cap=5)
    one_page = store.datasource("paging-store").list_objects(prefix="ground_truth/", page_size=1000)
    assert [obj.key for obj in one_page] == keys[:5]  # one page: the first five keys in ascending order, like S3

    monkeypatch.setattr(datasources, "LIST_PAGE_SIZE", 5)
    # a full page is followed by one listing per character that may come next: with every printable character that
    # is ~1,060 listings of these keys, with the characters they are made of (what differs is only the empty
    # answers) ~350
    monkeypatch.setattr(datasources, "KEY_CHARACTERS", "".join(sorted(set("".join(keys)) | {"~"})))
    assert store.list_keys("paging-store", "ground_truth/m1/") == keys
    assert store.list_keys("paging-store", "ground_truth/m1/2024-05-02/") == [k for k in keys if "05-02" in k]
    assert store.list_keys("paging-store", "nothing/") == []
