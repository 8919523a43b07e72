"""The pure core of the service: boards and notices composed from their inputs and a `now` passed in,
frames, forecasts, ownership decisions (instances, shards), the ports' Protocols. No I/O and no clock
(the import-linter pure-core contract holds it to that)."""
