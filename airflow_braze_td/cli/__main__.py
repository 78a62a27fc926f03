"""`python -m airflow_braze_td.cli`: the `braze-td` command."""

from airflow_braze_td.cli import main

raise SystemExit(main())
