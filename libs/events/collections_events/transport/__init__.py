"""Transports: the embedded in-process log and Kafka (aiokafka)."""
