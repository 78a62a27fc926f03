"""The "Braze → TD" lag page: an Airflow 3.1+ UI plugin over the one delivery status (`delivery.status`)."""
