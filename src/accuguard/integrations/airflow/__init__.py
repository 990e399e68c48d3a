"""Airflow 3 integration: the DAGs accuguard ships and what their tasks do.

- ``dags/accuracy_validation_dag.py``: validate a model version on a dataset given in
  the run's conf, branch on the verdict, tag the version, promote or open a rollout;
- ``dags/accuguard_retrain_dag.py``: the template a monitor's drift or accuracy alert
  triggers (``airflow:`` hook, docs/monitoring.md).

``accuguard airflow install-dags DIR`` copies them into a DAGs folder. The task bodies
live in :mod:`accuguard.integrations.airflow.tasks` and the conf models in
:mod:`accuguard.integrations.airflow.conf`, so they run without Airflow. See
docs/airflow.md.
"""
