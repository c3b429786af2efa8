//! OTLP/HTTP trace ingest: decode, turn spans into transactions and steps, store durably, then answer.
