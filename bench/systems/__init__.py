"""The systems compared: this product (a, a0), native logical replication (b), Debezium JDBC sink (c)."""
