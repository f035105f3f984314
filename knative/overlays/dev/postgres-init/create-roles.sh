#!/bin/sh
# Run once by the postgres image when it initialises an empty data directory
# (/docker-entrypoint-initdb.d), as its superuser postgres, on the database POSTGRES_DB:
# the two roles of contract §8, from the mounted secrets.
#  - the owner role (db-admin-username / db-admin-password): owns the database and its
#    public schema; the migration Job connects as it, creates the tables and grants;
#  - the functions' role (db-credentials-username / db-credentials-password): may connect,
#    nothing more until the migration grants it SELECT, INSERT, UPDATE, DELETE on the tables.
# Neither is a superuser. (A data directory made before this script existed has neither
# role: delete the postgres-data PersistentVolumeClaim to start over.)
set -eu
secrets="${SECRETS_DIR:-/var/run/secrets/cofrap}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set db="$POSTGRES_DB" \
  --set owner="$(cat "$secrets/db-admin-username")" \
  --set owner_password="$(cat "$secrets/db-admin-password")" \
  --set app="$(cat "$secrets/db-credentials-username")" \
  --set app_password="$(cat "$secrets/db-credentials-password")" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN PASSWORD :'app_password';
ALTER DATABASE :"db" OWNER TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
