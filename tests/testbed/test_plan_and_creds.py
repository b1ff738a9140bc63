"""Port plan, settings and credentials of the test bed (pure parts)."""

from __future__ import annotations

import pytest

from lakehouse.endpoints import public_endpoints
from testbed.creds import Credentials
from testbed.plan import HOST, PORT_BASE_ENV, PORT_RANGE, PortPlan, ZooKeeperPlan, bed_settings, default_plan
from testbed.services.spark import DRIVER_UI_PORT


def test_every_port_is_unique_and_inside_the_test_beds_range() -> None:
    ports = PortPlan().all_ports()
    assert len(set(ports.values())) == len(ports)
    assert all(p in PORT_RANGE for p in ports.values())


def test_zookeeper_mode_second_bed_and_driver_uis_do_not_collide_with_the_main_bed() -> None:
    main = set(PortPlan().all_ports().values())
    zk = set(ZooKeeperPlan().all_ports().values())
    second = set(PortPlan(base=20500).all_ports().values())  # LAKEHOUSE_TESTBED_PORT_BASE=20500
    mini_s3 = set(PortPlan(base=20600).service_ports("s3"))  # the lifecycle test's S3-only test bed
    drivers = set(range(DRIVER_UI_PORT, DRIVER_UI_PORT + 33))
    groups = [main, zk, second, mini_s3, drivers]
    assert all(p in PORT_RANGE for g in groups for p in g)
    for i, a in enumerate(groups):
        for b in groups[i + 1 :]:
            assert not a & b


def test_service_ports_split_the_plan_by_service() -> None:
    plan = PortPlan()
    services = ("s3", "kafka", "spark", "trino", "superset", "orion")
    split = [p for s in services for p in plan.service_ports(s)]
    assert sorted(split) == sorted(plan.all_ports().values())
    assert plan.service_ports("kafka") == [20092, 20093, 20094, 20192, 20193, 20194, 20292, 20293, 20294]
    with pytest.raises(ValueError, match="unknown test bed service 'hive'"):
        plan.service_ports("hive")


def test_port_base_env_moves_the_plan_or_says_what_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_BASE_ENV, "20500")
    assert default_plan().trino == 20585
    for bad in ("20400", "20900", "abc"):
        monkeypatch.setenv(PORT_BASE_ENV, bad)
        with pytest.raises(ValueError, match=PORT_BASE_ENV):
            default_plan()


def test_stacks_default_host_ports_stay_free() -> None:
    stack_defaults = {8000, 8080, 8085, 8088, 9000, 9001, 7077, 19092, 19093, 19094}
    assert not stack_defaults & set(PortPlan().all_ports().values())


def test_settings_carry_the_plan_so_public_endpoints_are_the_test_beds() -> None:
    plan = PortPlan()
    ep = public_endpoints(bed_settings(plan), host=HOST)
    assert ep["kafka_bootstrap_servers"] == "127.0.0.1:20092,127.0.0.1:20093,127.0.0.1:20094"
    assert ep["s3_endpoint"] == f"http://127.0.0.1:{plan.s3}"
    assert ep["spark_master_url"] == f"spark://127.0.0.1:{plan.spark_master}"
    assert ep["spark_master_ui"] == f"http://127.0.0.1:{plan.spark_master_ui}"
    assert ep["trino_url"] == f"http://127.0.0.1:{plan.trino}"
    assert ep["superset_url"] == f"http://127.0.0.1:{plan.superset}"
    assert ep["orion_url"] == f"http://127.0.0.1:{plan.orion}"
    assert ep["delta_table_uri"] == "s3a://lake/logistics_events"


def test_settings_keep_the_stacks_defaults_apart_from_ports() -> None:
    s = bed_settings()
    assert (s.kafka_brokers, s.spark_workers, s.lake_bucket, s.kafka_heap) == (3, 2, "lake", "256m")
    assert s.bind_address == "127.0.0.1"


def test_credentials_are_random_distinct_and_never_printed() -> None:
    a, b = Credentials.generate(), Credentials.generate()
    assert a != b
    values = list(a.as_dict().values())
    assert len(set(values)) == len(values)
    assert all(len(v) >= 20 for v in values)
    assert a.s3_admin_key.startswith("TBAD") and a.s3_admin_key.isalnum() and a.s3_admin_key.isupper()
    assert a.orion_token not in repr(a) and "redacted" in repr(a)
    assert Credentials.from_dict(a.as_dict()) == a
