# The two commands a newcomer needs: `make run` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
PYTEST_ARGS ?=
STAMP := $(VENV)/.installed-dev
# The Lambda package: built by Zappa from a venv that holds requirements.txt and nothing else.
STAGE ?= production
DEPLOY_VENV ?= .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
PACKAGE ?= slow-scheduler-$(STAGE).zip

.PHONY: run test venv package clean

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

# Made again from scratch when requirements.txt changes, so that nothing left over reaches the zip.
$(DEPLOY_STAMP): requirements.txt
	rm -rf $(DEPLOY_VENV)
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(DEPLOY_STAMP)

# The zip `zappa deploy $(STAGE) -z $(PACKAGE)` uploads; tests/test_package.py runs this very file.
package: $(DEPLOY_STAMP)
	rm -f $(PACKAGE)
	VIRTUAL_ENV=$(abspath $(DEPLOY_VENV)) PATH=$(abspath $(DEPLOY_VENV))/bin:$$PATH \
		zappa package $(STAGE) --output $(PACKAGE) --disable_progress

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) db.sqlite3 .pytest_cache slow-scheduler-*.zip
