# Dawn Chorus — the two commands: `make run` (whole system with demo data) and `make test`.
.PHONY: run test bootstrap bench mobile clean-var

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

bootstrap:
	@bash scripts/bootstrap.sh

bench:
	@bash scripts/bench.sh

# the Kivy field client on this desktop, against the server of `make run`
mobile:
	@bash scripts/run_mobile.sh  # bootstraps first only when the virtualenv is missing or stale

clean-var:
	@python3 scripts/services.py stop; rm -rf var/media var/cache
