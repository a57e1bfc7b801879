import pytest

from tests.conftest import SAMPLE_DATA, SHARED_DATA


@pytest.mark.parametrize("name", ["tasks.csv", "licence-windows.csv", "tasks.json"])
def test_the_copied_sample_inputs_match_the_shared_ones(name):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not beside this clone; the copies in tests/data are used as they are")
    assert (SAMPLE_DATA / name).read_bytes() == (SHARED_DATA / name).read_bytes()
