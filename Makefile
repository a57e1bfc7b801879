# The two commands a newcomer needs: `make run` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
PYTEST_ARGS ?=
STAMP := $(VENV)/.installed-dev

.PHONY: run test venv clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

# The admin, an embedded DynamoDB and the worker in one process, on SQLite (DJANGO_DEBUG on: local only).
run: $(STAMP)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(VENV)/bin/python manage.py runscheduler 127.0.0.1:$(PORT)

# The whole suite (SQLite unless DATABASE_URL says otherwise).
test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache
