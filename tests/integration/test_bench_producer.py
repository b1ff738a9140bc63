"""Smoke run of bench/producer.py (figure 1) with tiny sizes on the test bed, so the benchmark cannot rot.
It checks that every part ran and reported its figures, never what the figures are."""

from __future__ import annotations

import pytest

from bench import producer as bench

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_producer_benchmark_reports_ours_and_the_java_anchor(testbed: dict[str, str], require_services) -> None:
    require_services("kafka")
    if "testbed_java_home" not in testbed:
        pytest.skip("ProducerPerformance runs with the test bed's JDK")

    fig = bench.figure(testbed, events=2000, runs=1, processes=(1, 2))

    ours, java = fig["ours"], fig["producer_performance"]
    assert set(ours) == {"1_process", "2_processes"}
    for name, figure in ours.items():
        assert figure["events_per_run"] == 2000 and figure["runs"] == 1, name
        assert figure["events_per_s"]["median"] > 0, name
        assert 400 < figure["mean_event_bytes"] < 1000, name
    assert java["records_per_run"] == 2000 and java["events_per_s"]["median"] > 0
    assert java["producer_props"]["acks"] == "all" and java["producer_props"]["enable.idempotence"] == "true"
    assert set(fig["ratio_to_producer_performance"]) == set(ours)
    assert fig["machine_before"]["cores"] and fig["machine_after"]["load_average_1_5_15"]
