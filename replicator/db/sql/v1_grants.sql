-- Rights of the Debezium role on V1: read the captured tables, write heartbeats. Nothing else.
-- {role} is substituted as a quoted identifier by replicator/db/bootstrap.py.
GRANT USAGE ON SCHEMA public, replicator TO {role};
GRANT SELECT ON ALL TABLES IN SCHEMA public, replicator TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA replicator GRANT SELECT ON TABLES TO {role};
GRANT INSERT, UPDATE ON replicator.heartbeat TO {role};
