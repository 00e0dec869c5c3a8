"""The pure core: from a Debezium record to decisions about V2. No Kafka, no database here."""
