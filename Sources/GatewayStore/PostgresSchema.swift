/// The gateway's tables in PostgreSQL, in schema `consolegate`, as numbered migrations. `serve` applies the
/// missing ones at start under an advisory lock, so replicas that start together apply each exactly once;
/// `consolegate migrate` applies them as a separate owner role and grants the service role only what it needs.
enum PostgresSchema {
    /// Serializes migrations across replicas; any constant other applications are unlikely to use.
    static let migrationLock: Int64 = 0x436F_6E73_6F6C_6547 // "ConsoleG"

    static let bootstrap = [
        "CREATE SCHEMA IF NOT EXISTS consolegate",
        """
        CREATE TABLE IF NOT EXISTS consolegate.schema_version (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            applied_by text NOT NULL DEFAULT current_user
        )
        """,
    ]

    /// Migration N is `migrations[N - 1]`. Never edit one that has shipped: add the next.
    static let migrations: [[String]] = [version1]

    static var latest: Int { migrations.count }

    static let version1 = [
        // The guessing budget per key ("user:NAME", "device:ID", "address:IP"): recent failures and a lock.
        """
        CREATE TABLE consolegate.lockout (
            key text PRIMARY KEY,
            failures timestamptz[] NOT NULL DEFAULT '{}',
            locked_until timestamptz
        )
        """,
        // Attempts admitted and not finished: they hold budget and concurrency until they finish or expire
        // (a replica killed mid-attempt leaves slots that lapse on their own).
        """
        CREATE TABLE consolegate.attempt_slots (
            ticket uuid NOT NULL,
            key text NOT NULL,
            budget boolean NOT NULL,
            in_flight boolean NOT NULL,
            expires timestamptz NOT NULL,
            PRIMARY KEY (ticket, key)
        )
        """,
        "CREATE INDEX attempt_slots_by_key ON consolegate.attempt_slots (key, expires)",
        """
        CREATE TABLE consolegate.role_choices (
            token_digest text PRIMARY KEY,
            user_name text NOT NULL,
            csrf_digest text NOT NULL,
            client text NOT NULL,
            expires timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE consolegate.used_codes (
            digest text PRIMARY KEY,
            expires timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE consolegate.audit (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time timestamptz NOT NULL,
            request_id text NOT NULL,
            front_end text NOT NULL,
            user_name text NOT NULL,
            client text NOT NULL,
            outcome text NOT NULL,
            role text,
            session_name text,
            access_key_id text,
            expires timestamptz,
            detail text
        )
        """,
        "CREATE INDEX audit_by_time ON consolegate.audit (time)",
        "CREATE INDEX audit_by_user ON consolegate.audit (user_name, time)",
        // Append-only even for a role that was granted more than INSERT by mistake; the owner can still
        // remove old rows on purpose (ALTER TABLE … DISABLE TRIGGER).
        """
        CREATE FUNCTION consolegate.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'consolegate.audit is append-only';
        END $$
        """,
        """
        CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON consolegate.audit
            FOR EACH ROW EXECUTE FUNCTION consolegate.refuse_audit_change()
        """,
        """
        CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON consolegate.audit
            FOR EACH STATEMENT EXECUTE FUNCTION consolegate.refuse_audit_change()
        """,
        // One admission decision in one statement: the keys' rows are locked in key order (no deadlocks),
        // then the locks, the concurrency and the budget are checked and the slots taken, all in the same
        // transaction. Returns {verdict, budget keys…}.
        """
        CREATE FUNCTION consolegate.admit(p_ticket uuid, p_user text, p_device text, p_address text,
                                          p_per_user integer, p_per_address integer,
                                          p_user_in_flight integer, p_address_in_flight integer,
                                          p_window interval, p_slot_life interval) RETURNS text[]
        LANGUAGE plpgsql AS $$
        DECLARE
            now_ timestamptz := clock_timestamp();
            v_budget text[];
            v_key text;
        BEGIN
            INSERT INTO consolegate.lockout (key)
                SELECT DISTINCT x FROM unnest(ARRAY[p_user, p_device, p_address]) AS x WHERE x IS NOT NULL ORDER BY 1
                ON CONFLICT DO NOTHING;
            PERFORM 1 FROM consolegate.lockout WHERE key IN (p_user, p_device, p_address) ORDER BY key FOR UPDATE;
            IF p_device IS NOT NULL AND NOT EXISTS
                (SELECT 1 FROM consolegate.lockout WHERE key = p_device AND locked_until > now_) THEN
                v_budget := ARRAY[p_device, p_address];
            ELSE
                v_budget := ARRAY[p_user, p_address];
            END IF;
            IF EXISTS (SELECT 1 FROM consolegate.lockout WHERE key = ANY(v_budget) AND locked_until > now_) THEN
                RETURN ARRAY['locked'];
            END IF;
            IF (SELECT count(*) FROM consolegate.attempt_slots WHERE key = p_user AND in_flight AND expires > now_) >= p_user_in_flight
               OR (SELECT count(*) FROM consolegate.attempt_slots WHERE key = p_address AND in_flight AND expires > now_) >= p_address_in_flight THEN
                RETURN ARRAY['busy'];
            END IF;
            FOREACH v_key IN ARRAY v_budget LOOP
                IF (SELECT count(*) FROM consolegate.lockout l, unnest(l.failures) AS f WHERE l.key = v_key AND f > now_ - p_window)
                   + (SELECT count(*) FROM consolegate.attempt_slots WHERE key = v_key AND budget AND expires > now_)
                   >= (CASE WHEN v_key = p_address THEN p_per_address ELSE p_per_user END) THEN
                    RETURN ARRAY['busy'];
                END IF;
            END LOOP;
            INSERT INTO consolegate.attempt_slots (ticket, key, budget, in_flight, expires)
                SELECT p_ticket, x, x = ANY(v_budget), x IN (p_user, p_address), now_ + p_slot_life
                FROM (SELECT DISTINCT unnest(v_budget || ARRAY[p_user, p_address]) AS x) AS keys;
            RETURN ARRAY['admitted'] || v_budget;
        END $$
        """,
        // The end of an admitted attempt, in one statement: its slots go; a failure is counted against
        // each budget key and may lock it; a success clears the name's or device's failures.
        """
        CREATE FUNCTION consolegate.finish(p_ticket uuid, p_succeeded boolean, p_budget text[], p_address text,
                                           p_per_user integer, p_per_address integer,
                                           p_window interval, p_lock interval) RETURNS integer
        LANGUAGE plpgsql AS $$
        DECLARE
            now_ timestamptz := clock_timestamp();
            v_key text;
            v_recent timestamptz[];
            v_locked integer := 0;
        BEGIN
            INSERT INTO consolegate.lockout (key) SELECT x FROM unnest(p_budget) AS x ORDER BY 1 ON CONFLICT DO NOTHING;
            PERFORM 1 FROM consolegate.lockout WHERE key = ANY(p_budget) ORDER BY key FOR UPDATE;
            DELETE FROM consolegate.attempt_slots WHERE ticket = p_ticket;
            FOREACH v_key IN ARRAY p_budget LOOP
                IF p_succeeded THEN
                    IF v_key <> p_address THEN
                        UPDATE consolegate.lockout SET failures = '{}' WHERE key = v_key;
                    END IF;
                ELSE
                    SELECT ARRAY(SELECT f FROM unnest(l.failures) AS f WHERE f > now_ - p_window) || now_
                        INTO v_recent FROM consolegate.lockout l WHERE l.key = v_key;
                    IF cardinality(v_recent) >= (CASE WHEN v_key = p_address THEN p_per_address ELSE p_per_user END) THEN
                        UPDATE consolegate.lockout SET failures = '{}', locked_until = now_ + p_lock WHERE key = v_key;
                        v_locked := v_locked + 1;
                    ELSE
                        UPDATE consolegate.lockout SET failures = v_recent WHERE key = v_key;
                    END IF;
                END IF;
            END LOOP;
            RETURN v_locked;
        END $$
        """,
    ]

    /// What `consolegate migrate --grant-to ROLE` grants the service role: the state tables in full, the
    /// audit trail to append and read only.
    static func grants(to role: String) -> [String] {
        let quoted = "\"" + role.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        return [
            "GRANT USAGE ON SCHEMA consolegate TO \(quoted)",
            "GRANT SELECT ON consolegate.schema_version TO \(quoted)",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON consolegate.lockout, consolegate.attempt_slots, consolegate.role_choices, consolegate.used_codes TO \(quoted)",
            "GRANT SELECT, INSERT ON consolegate.audit TO \(quoted)",
            "GRANT EXECUTE ON FUNCTION consolegate.admit(uuid, text, text, text, integer, integer, integer, integer, interval, interval), consolegate.finish(uuid, boolean, text[], text, integer, integer, interval, interval) TO \(quoted)",
        ]
    }
}
