-- Set-based seeding of a migrated Boundaries database for the benchmark, the soak test
-- and the backup round trip. Run by tests/bench/seed.py, one step at a time (each step
-- starts with a "-- step:" line), inside one session so that the temporary tables
-- survive from step to step. Parameters are psycopg2 placeholders, so this file uses
-- mod() and never a literal percent sign.
--
-- Every "random" choice comes from pg_temp.u(n, k): a hash of the row number and a
-- salt, so the same parameters give the same people, patients and incidents each time
-- (only UUIDs differ). Invented data only: NHS numbers come from the 999 range, which
-- the NHS never issues to patients.
--
-- Shape of the data:
--   * units: wards and clinics, two supervisors each (every fifth supervises the next
--     unit too), a handful of managers, reporters spread evenly over the units (one in
--     ten also works in a second unit);
--   * patients: "frequent attenders" (1 in 100) come back throughout the period, mostly
--     to their home unit; the rest have a short admission, so their incidents cluster
--     within a couple of weeks, which is what the repeat rules look for;
--   * incidents: 5 in 100 about someone who is not a patient; the last completed month
--     holds :big_month incidents and the month a year before it :small_month, so the
--     monthly report can be timed on a large and a small month; the rest are spread
--     evenly over the other months;
--   * review: incidents older than two weeks are almost all closed; recent ones are
--     waiting, under review or closed;
--   * alerts: the four rules applied to the stored incidents, one alert per rule,
--     patient and 90-day period; alerts of earlier periods are resolved.

-- step: helpers
CREATE FUNCTION pg_temp.u(n bigint, salt integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (hashint8(n * 1009 + salt)::bigint + 2147483648)::float8 / 4294967296.0::float8 $$;

CREATE FUNCTION pg_temp.pick(choices text[], r double precision) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT choices[1 + floor(r * array_length(choices, 1))::integer] $$;

-- step: thresholds
INSERT INTO incidents_alertthresholds
    (id, repeat_count, repeat_days, staff_count, staff_days, updated_at)
VALUES (1, 3, 90, 2, 30, now())
ON CONFLICT (id) DO NOTHING;

-- step: units
CREATE TEMP TABLE bench_unit (idx integer PRIMARY KEY, id bigint NOT NULL);
WITH created AS (
    INSERT INTO boundaries_unit (name, code, kind, is_active)
    SELECT CASE WHEN mod(u, 5) = 4 THEN 'Clinic ' ELSE 'Ward ' END || (u + 1) || ' (bench)',
           'U' || lpad((u + 1)::text, 3, '0'),
           CASE WHEN mod(u, 5) = 4 THEN 'clinic' ELSE 'ward' END,
           true
    FROM generate_series(0, %(units)s - 1) AS u
    RETURNING id, code
)
INSERT INTO bench_unit SELECT substring(code FROM 2)::integer - 1, id FROM created;
ANALYZE bench_unit;

-- step: staff
-- idx 0 .. 2*units-1: supervisors; the next ten: managers; the rest: reporters.
CREATE TEMP TABLE bench_person (
    idx integer PRIMARY KEY, id bigint NOT NULL, role text NOT NULL, unit_idx integer NOT NULL
);
WITH people AS (
    SELECT p,
           CASE WHEN p < 2 * %(units)s THEN 'supervisor'
                WHEN p < 2 * %(units)s + 10 THEN 'manager'
                ELSE 'reporter' END AS role
    FROM generate_series(0, %(staff)s - 1) AS p
), created AS (
    INSERT INTO boundaries_user
        (password, is_superuser, username, first_name, last_name, is_staff, is_active,
         date_joined, email, job_title, role)
    SELECT %(password_hash)s, false,
           'bench-' || substring(role FROM 1 FOR 3) || '-' || lpad(p::text, 5, '0'),
           pg_temp.pick(ARRAY['Ari', 'Bo', 'Cai', 'Dee', 'Eli', 'Fen', 'Gil', 'Hal', 'Ivo',
                              'Jem', 'Kit', 'Lou', 'Mo', 'Nye', 'Oda', 'Pim'], pg_temp.u(p, 1)),
           pg_temp.pick(ARRAY['Tremayne', 'Polwarth', 'Rosevear', 'Nancarrow', 'Penhale',
                              'Trevaskis', 'Carlyon', 'Boscawen', 'Angove', 'Jory'],
                        pg_temp.u(p, 2)),
           false, true, now() - interval '4 years',
           'bench-' || substring(role FROM 1 FOR 3) || '-' || lpad(p::text, 5, '0')
               || '@example.invalid',
           CASE WHEN role = 'reporter'
                THEN pg_temp.pick(ARRAY['nurse', 'nurse', 'nurse', 'hca', 'ahp', 'doctor'],
                                  pg_temp.u(p, 3))
                ELSE 'nurse' END,
           role
    FROM people
    RETURNING id, username, role
)
INSERT INTO bench_person
SELECT substring(username FROM 11)::integer, id, role, 0 FROM created;

UPDATE bench_person SET unit_idx = CASE
    WHEN role = 'supervisor' THEN mod(idx, %(units)s)
    WHEN role = 'manager' THEN mod(idx, %(units)s)
    ELSE mod(idx - 2 * %(units)s - 10, %(units)s) END;

INSERT INTO boundaries_membership (user_id, unit_id, is_primary)
SELECT p.id, u.id, true FROM bench_person p JOIN bench_unit u ON u.idx = p.unit_idx;
-- A second unit: one reporter in ten, and every fifth supervisor.
INSERT INTO boundaries_membership (user_id, unit_id, is_primary)
SELECT p.id, u.id, false
FROM bench_person p JOIN bench_unit u ON u.idx = mod(p.unit_idx + 1, %(units)s)
WHERE (p.role = 'reporter' AND mod(p.idx, 10) = 3)
   OR (p.role = 'supervisor' AND mod(p.idx, 5) = 0);

-- Reporters by unit, numbered within it, for picking "someone on that ward".
CREATE TEMP TABLE bench_reporter AS
SELECT unit_idx, (row_number() OVER (PARTITION BY unit_idx ORDER BY idx) - 1)::integer AS k, id
FROM bench_person WHERE role = 'reporter';
ALTER TABLE bench_reporter ADD PRIMARY KEY (unit_idx, k);
CREATE TEMP TABLE bench_supervisor AS
SELECT unit_idx, (row_number() OVER (PARTITION BY unit_idx ORDER BY idx) - 1)::integer AS k, id
FROM bench_person WHERE role = 'supervisor';
ALTER TABLE bench_supervisor ADD PRIMARY KEY (unit_idx, k);
ANALYZE bench_person, bench_reporter, bench_supervisor;

-- step: patients
-- Ten-digit NHS numbers 999xxxxxxx with a valid modulus-11 check digit, numbered in
-- order (frequent attenders first).
INSERT INTO incidents_patient (public_id, reference, created_at)
SELECT gen_random_uuid(), reference, now() - interval '4 years'
FROM (
    SELECT '999' || lpad(n::text, 6, '0') || check_digit::text AS reference
    FROM (
        SELECT n, mod(11 - mod(243 + 7 * mod(n / 100000, 10) + 6 * mod(n / 10000, 10)
                               + 5 * mod(n / 1000, 10) + 4 * mod(n / 100, 10)
                               + 3 * mod(n / 10, 10) + 2 * mod(n, 10), 11), 11) AS check_digit
        FROM generate_series(0, least(999999, %(patients)s * 11 / 10 + 100)) AS n
    ) AS candidates
    WHERE check_digit <> 10
    ORDER BY n
    LIMIT %(patients)s
) AS valid;
CREATE TEMP TABLE bench_patient AS
SELECT (row_number() OVER (ORDER BY reference) - 1)::integer AS idx, id, reference
FROM incidents_patient WHERE starts_with(reference, '999');
ALTER TABLE bench_patient ADD PRIMARY KEY (idx);
ANALYZE bench_patient;

-- step: lookups
CREATE TEMP TABLE bench_request_type AS
SELECT rt.id, rt.base_severity, weights.lo, weights.hi
FROM incidents_requesttype rt
JOIN (VALUES ('personal-contact', 0, 29), ('offered-number', 29, 42),
             ('social-media', 42, 57), ('meet-outside', 57, 67), ('gifts', 67, 76),
             ('private-services', 76, 80), ('post-discharge-contact', 80, 85),
             ('romantic', 85, 90), ('unwanted-attention', 90, 96), ('harassment', 96, 98),
             ('stalking', 98, 99), ('physical', 99, 100)) AS weights (code, lo, hi)
  ON weights.code = rt.code;
CREATE TEMP TABLE bench_type_bucket AS
SELECT b AS bucket, t.id, t.base_severity
FROM generate_series(0, 99) AS b JOIN bench_request_type t ON b >= t.lo AND b < t.hi;
ALTER TABLE bench_type_bucket ADD PRIMARY KEY (bucket);

CREATE TEMP TABLE bench_channel_bucket AS
SELECT b AS bucket, c.id
FROM generate_series(0, 99) AS b
JOIN (SELECT ch.id, weights.lo, weights.hi
      FROM incidents_channel ch
      JOIN (VALUES ('in-person', 0, 55), ('unit-phone', 55, 67), ('personal-phone', 67, 77),
                   ('social-media', 77, 88), ('email-portal', 88, 93),
                   ('letter-gift', 93, 98), ('other', 98, 100)) AS weights (code, lo, hi)
        ON weights.code = ch.code) AS c
  ON b >= c.lo AND b < c.hi;
ALTER TABLE bench_channel_bucket ADD PRIMARY KEY (bucket);

-- The library's words were approved before the seeded history begins (an incident
-- records only words approved when it happened).
UPDATE scripts_library_scriptversion SET decided_at = now() - interval '5 years'
WHERE state = 'approved';

-- The scripts reporters are offered, numbered.
CREATE TEMP TABLE bench_script AS
SELECT (row_number() OVER (ORDER BY v.id) - 1)::integer AS k, v.id, v.text
FROM scripts_library_scriptversion v
JOIN scripts_library_script s ON s.id = v.script_id
WHERE v.state = 'approved' AND s.status = 'approved';
ALTER TABLE bench_script ADD PRIMARY KEY (k);
ANALYZE bench_type_bucket, bench_channel_bucket, bench_script;

-- step: months
-- Calendar months in the deployment's time zone, newest (the current one, k = 0) first.
CREATE TEMP TABLE bench_month AS
SELECT k,
       (date_trunc('month', now() AT TIME ZONE %(time_zone)s) - make_interval(months => k))
           AT TIME ZONE %(time_zone)s AS start_at,
       least((date_trunc('month', now() AT TIME ZONE %(time_zone)s)
                 - make_interval(months => k - 1)) AT TIME ZONE %(time_zone)s,
             now() - interval '30 minutes') AS end_at,
       0::bigint AS n,
       0::bigint AS first_n
FROM generate_series(0, %(months)s - 1) AS k;
-- The large and the small month get fixed counts; the rest share the remainder by length.
UPDATE bench_month SET n = CASE k WHEN 1 THEN %(big_month)s WHEN 13 THEN %(small_month)s END
WHERE k IN (1, 13);
UPDATE bench_month m SET n = floor(
    (%(incidents)s - %(big_month)s - %(small_month)s)
    * extract(epoch FROM m.end_at - m.start_at)
    / (SELECT sum(extract(epoch FROM end_at - start_at))
       FROM bench_month WHERE k NOT IN (1, 13)))
WHERE k NOT IN (1, 13);
UPDATE bench_month SET n = n + (%(incidents)s - (SELECT sum(n) FROM bench_month)) WHERE k = 2;
UPDATE bench_month m SET first_n = coalesce(
    (SELECT sum(n) FROM bench_month earlier WHERE earlier.k > m.k), 0);
ANALYZE bench_month;

-- step: drop secondary indexes and constraints
-- Loading into bare tables and building indexes and checking references afterwards, in
-- one pass each, is several times faster than maintaining them row by row.
CREATE TEMP TABLE bench_saved_ddl (position serial, kind text, drop_sql text, create_sql text);
INSERT INTO bench_saved_ddl (kind, drop_sql, create_sql)
SELECT CASE c.contype WHEN 'f' THEN 'foreign key' ELSE 'index' END,
       'ALTER TABLE ' || c.conrelid::regclass::text || ' DROP CONSTRAINT ' || quote_ident(c.conname),
       'ALTER TABLE ' || c.conrelid::regclass::text || ' ADD CONSTRAINT ' || quote_ident(c.conname)
           || ' ' || pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype IN ('f', 'u')
  AND c.conrelid::regclass::text IN ('incidents_incident', 'incidents_witness',
                                     'incidents_alert', 'incidents_alertincident')
ORDER BY c.contype, c.conname;
INSERT INTO bench_saved_ddl (kind, drop_sql, create_sql)
SELECT 'index', 'DROP INDEX ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid::regclass::text IN ('incidents_incident', 'incidents_witness',
                                     'incidents_alert', 'incidents_alertincident')
  AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY i.indexrelid;
DO $$
DECLARE statement text;
BEGIN
    FOR statement IN SELECT drop_sql FROM bench_saved_ddl ORDER BY position LOOP
        EXECUTE statement;
    END LOOP;
END $$;

-- step: draw incidents
-- What each incident will be, drawn first into a narrow temporary table (so that the
-- INSERT only copies, and the witnesses and alerts are computed from it rather than
-- from the wide incident table). Ids follow the order in which incidents occurred.
CREATE TEMP TABLE bench_placed AS
SELECT g.n,
       -- Evenly spread over the month, in order: row n occurs before row n + 1.
       m.start_at + (g.n - m.first_n - 1 + pg_temp.u(g.n, 1)) / m.n * (m.end_at - m.start_at)
           AS occurred_at,
       CASE WHEN pg_temp.u(g.n, 2) < 0.05 THEN NULL
            WHEN pg_temp.u(g.n, 2) < 0.25 THEN floor(pg_temp.u(g.n, 3) * %(repeaters)s)::integer
            -- Patients are numbered in the order of their care: an incident goes to
            -- someone in care around its time, close by (an admission: incidents a few
            -- days apart) or further off (a patient who comes back months later).
            -- (mod twice: PostgreSQL's mod keeps the sign of a negative number.)
            ELSE %(repeaters)s + mod(mod(
                     (floor(m.position + (g.n - m.first_n) * m.step)
                      + floor((pg_temp.u(g.n, 3) - 0.5)
                              * CASE WHEN pg_temp.u(g.n, 4) < 0.3 THEN 2000 ELSE 100000 END)
                     )::integer,
                     %(patients)s - %(repeaters)s) + %(patients)s - %(repeaters)s,
                     %(patients)s - %(repeaters)s)
       END AS patient_idx
FROM (
    -- Where in the order of care each month starts, and how far each incident moves it
    -- (floating point, worked out once per month rather than once per row).
    SELECT month.*,
           (extract(epoch FROM month.start_at - span.t0) / span.seconds
            * (%(patients)s - %(repeaters)s))::float8 AS position,
           (extract(epoch FROM month.end_at - month.start_at) / span.seconds
            / greatest(month.n, 1) * (%(patients)s - %(repeaters)s))::float8 AS step
    FROM bench_month AS month
    CROSS JOIN (SELECT min(start_at) AS t0, extract(epoch FROM now() - min(start_at)) AS seconds
                FROM bench_month) AS span
) AS m
CROSS JOIN LATERAL generate_series(m.first_n + 1, m.first_n + m.n) AS g (n);

CREATE TEMP TABLE bench_drawn AS
SELECT p.n, p.occurred_at, p.patient_idx,
       CASE WHEN p.patient_idx IS NULL THEN floor(pg_temp.u(p.n, 37) * %(units)s)::integer
            WHEN p.patient_idx < %(repeaters)s AND pg_temp.u(p.n, 5) < 0.8
                 THEN mod(p.patient_idx, %(units)s)
            WHEN p.patient_idx >= %(repeaters)s AND pg_temp.u(p.n, 5) < 0.9
                 THEN mod(p.patient_idx * 7, %(units)s)
            ELSE floor(pg_temp.u(p.n, 37) * %(units)s)::integer
       END AS unit_idx,
       least(p.occurred_at + pg_temp.u(p.n, 6) * interval '30 hours',
             now() - interval '1 minute') AS submitted_at,
       CASE WHEN p.patient_idx IS NULL THEN 'other'
            WHEN pg_temp.u(p.n, 7) < 0.74 THEN 'patient'
            WHEN pg_temp.u(p.n, 7) < 0.93 THEN 'relative'
            ELSE 'former_patient' END AS other_party,
       -- Frequent attenders push back more often.
       CASE WHEN pg_temp.u(p.n, 8) < (CASE WHEN p.patient_idx < %(repeaters)s
                                           THEN 0.55 ELSE 0.72 END) THEN 'accepted'
            WHEN pg_temp.u(p.n, 8) < (CASE WHEN p.patient_idx < %(repeaters)s
                                           THEN 0.88 ELSE 0.94 END) THEN 'asked_again'
            ELSE 'escalated' END AS person_response,
       pg_temp.u(p.n, 11) < 0.02 AS called_security,
       pg_temp.u(p.n, 12) < 0.005 AS called_police,
       pg_temp.u(p.n, 13) < 0.02 AS feels_unsafe
FROM bench_placed p;
DROP TABLE bench_placed;

CREATE TEMP TABLE bench_incident AS
SELECT coalesce((SELECT max(id) FROM incidents_incident), 0) + d.n AS id,
       d.n, d.occurred_at, d.submitted_at, d.other_party, d.person_response,
       d.called_security, d.called_police, d.feels_unsafe,
       pt.id AS patient_id, u.id AS unit_id, rep.id AS reporter_id, sup.id AS supervisor_id,
       t.id AS request_type_id, c.id AS channel_id,
       CASE WHEN pg_temp.u(d.n, 16) < 0.6 THEN s.id END AS script_version_id,
       -- The severity rules of incidents/severity.py.
       greatest(t.base_severity,
                CASE d.person_response WHEN 'accepted' THEN 1
                                       WHEN 'asked_again' THEN 2 ELSE 3 END,
                CASE WHEN d.called_security OR d.called_police OR d.feels_unsafe
                     THEN 3 ELSE 1 END) AS severity,
       -- Review: incidents older than two weeks are nearly all closed.
       CASE WHEN d.submitted_at < now() - interval '14 days' THEN
                CASE WHEN pg_temp.u(d.n, 20) < 0.003 THEN 'submitted'
                     WHEN pg_temp.u(d.n, 20) < 0.01 THEN 'under_review'
                     ELSE 'closed' END
            ELSE CASE WHEN pg_temp.u(d.n, 20) < 0.45 THEN 'submitted'
                      WHEN pg_temp.u(d.n, 20) < 0.75 THEN 'under_review'
                      ELSE 'closed' END
       END AS status,
       least(d.submitted_at + pg_temp.u(d.n, 21) * interval '3 days', now()) AS first_review
FROM bench_drawn d
JOIN bench_unit u ON u.idx = d.unit_idx
JOIN bench_reporter rep
  ON rep.unit_idx = d.unit_idx
 AND rep.k = floor(pg_temp.u(d.n, 27)
                   * ((%(staff)s - 2 * %(units)s - 10) / %(units)s))::integer
JOIN bench_supervisor sup ON sup.unit_idx = d.unit_idx AND sup.k = mod(d.n, 2)::integer
JOIN bench_type_bucket t ON t.bucket = floor(pg_temp.u(d.n, 9) * 100)::integer
JOIN bench_channel_bucket c ON c.bucket = floor(pg_temp.u(d.n, 10) * 100)::integer
LEFT JOIN bench_script s
  ON s.k = floor(pg_temp.u(d.n, 28) * (SELECT count(*) FROM bench_script))::integer
LEFT JOIN bench_patient pt ON pt.idx = d.patient_idx;
DROP TABLE bench_drawn;
ANALYZE bench_incident;

-- step: incidents
INSERT INTO incidents_incident (
    id, occurred_at, late_reason, location, other_party, description, words_used,
    person_response, ended_interaction, called_supervisor, called_security, called_police,
    supervisor_told_at, feels_unsafe, wants_debrief, severity, submission_token,
    submitted_at, notified_at, status, review_due_at, channel_id, reporter_id,
    script_version_id, supervisor_told_id, unit_id, patient_id, request_type_id,
    care_transferred, closed_at, debrief_held, debrief_offered, expectations_in_writing,
    feedback, feedback_at, flag_recommended, internal_note, police_informed,
    referred_onwards, reviewed_at, reviewed_by_id, security_informed, spoke_with_patient,
    version, feedback_by_id
)
SELECT
    r.id,
    r.occurred_at,
    '',
    pg_temp.pick(ARRAY['Bay 1', 'Bay 3', 'Side room 2', 'Corridor', 'Day room',
                       'Nurses'' station', 'Car park', 'Reception', 'Online',
                       'Treatment room'], pg_temp.u(r.n, 14)),
    r.other_party,
    pg_temp.pick(ARRAY['Asked for my mobile number while I did the observations.',
                       'Sent a friend request the evening after the visit.',
                       'Pressed a note with a phone number into my hand.',
                       'Asked to meet for a drink after discharge.',
                       'Waited by the staff entrance at the end of my shift.',
                       'Called the ward asking for me by name several times.',
                       'Offered an expensive gift and would not take no for an answer.',
                       'Made comments about my appearance and asked if I was single.'],
                 pg_temp.u(r.n, 15)),
    coalesce(s.text,
             pg_temp.pick(ARRAY['I''m sorry, I can''t share my personal details.',
                                'I keep work and home separate. The ward can help you.',
                                'That''s kind, but I can''t accept it.'], pg_temp.u(r.n, 17))),
    r.person_response,
    pg_temp.u(r.n, 18) < 0.25,
    pg_temp.u(r.n, 19) < 0.15,
    r.called_security,
    r.called_police,
    CASE WHEN pg_temp.u(r.n, 22) < 0.5
         THEN r.occurred_at + pg_temp.u(r.n, 23) * (r.submitted_at - r.occurred_at) END,
    r.feels_unsafe,
    pg_temp.u(r.n, 24) < 0.1,
    r.severity,
    gen_random_uuid(),
    r.submitted_at,
    CASE WHEN r.submitted_at < now() - interval '1 hour'
         THEN r.submitted_at + interval '1 hour' END,
    r.status,
    r.submitted_at + CASE WHEN r.severity = 3 THEN interval '1 day' ELSE interval '3 days' END,
    r.channel_id,
    r.reporter_id,
    r.script_version_id,
    CASE WHEN pg_temp.u(r.n, 22) < 0.5 THEN r.supervisor_id END,
    r.unit_id,
    r.patient_id,
    r.request_type_id,
    r.status <> 'submitted' AND pg_temp.u(r.n, 30) < 0.03,
    CASE WHEN r.status = 'closed'
         THEN least(r.first_review + pg_temp.u(r.n, 25) * interval '7 days', now()) END,
    r.status <> 'submitted' AND pg_temp.u(r.n, 31) < 0.2,
    r.status <> 'submitted' AND pg_temp.u(r.n, 32) < 0.4,
    r.status <> 'submitted' AND pg_temp.u(r.n, 33) < 0.05,
    CASE WHEN r.status = 'closed' AND pg_temp.u(r.n, 26) < 0.6
         THEN 'Thank you for reporting this. You handled it well; we have spoken to the team.'
         ELSE '' END,
    CASE WHEN r.status = 'closed' AND pg_temp.u(r.n, 26) < 0.6
         THEN least(r.first_review + pg_temp.u(r.n, 25) * interval '7 days', now()) END,
    r.status <> 'submitted' AND pg_temp.u(r.n, 34) < 0.02,
    '',
    r.status <> 'submitted' AND r.called_police,
    r.status <> 'submitted' AND pg_temp.u(r.n, 35) < 0.03,
    CASE WHEN r.status <> 'submitted' THEN r.first_review END,
    CASE WHEN r.status <> 'submitted' THEN r.supervisor_id END,
    r.status <> 'submitted' AND r.called_security,
    r.status <> 'submitted' AND pg_temp.u(r.n, 36) < 0.1,
    CASE r.status WHEN 'submitted' THEN 0 WHEN 'under_review' THEN 1 ELSE 2 END,
    CASE WHEN r.status = 'closed' AND pg_temp.u(r.n, 26) < 0.6 THEN r.supervisor_id END
FROM bench_incident r
LEFT JOIN bench_script s ON s.id = r.script_version_id;
SELECT setval(pg_get_serial_sequence('incidents_incident', 'id'),
              greatest((SELECT max(id) FROM incidents_incident), 1));

-- step: witnesses
-- Three incidents in ten name one or two witnesses.
-- A patient witness is never named: where they were instead.
INSERT INTO incidents_witness (incident_id, name, role, contact)
SELECT x.id,
       CASE WHEN x.role = 'patient' THEN ''
            ELSE pg_temp.pick(ARRAY['A. Trevena', 'B. Pascoe', 'C. Hosking', 'D. Kitto',
                                    'E. Opie', 'F. Tonkin'], pg_temp.u(x.n, 40 + x.w)) END,
       x.role,
       CASE WHEN x.role = 'patient' THEN 'Bay ' || (1 + mod(x.n, 6)) ELSE '' END
FROM (
    SELECT i.id, i.n, w,
           pg_temp.pick(ARRAY['staff', 'staff', 'staff', 'patient', 'visitor'],
                        pg_temp.u(i.n, 50 + w)) AS role
    FROM bench_incident i
    CROSS JOIN LATERAL generate_series(
        1, CASE WHEN pg_temp.u(i.n, 41) < 0.3 THEN 1 + mod(i.n, 2)::integer ELSE 0 END) AS w
) x;

-- step: alert history
-- The rules at the default thresholds (3 incidents in 90 days; 2 staff in 30 days; any
-- high severity; more severe than the patient's previous incident), per incident, and
-- the 90-day period (counted back from now) each incident falls in.
CREATE TEMP TABLE bench_history AS
SELECT id, patient_id, occurred_at, reporter_id, unit_id, severity,
       count(*) OVER repeat_window AS repeat_count,
       min(reporter_id) OVER staff_window <> max(reporter_id) OVER staff_window AS several_staff,
       lag(id) OVER by_patient AS previous_id,
       lag(occurred_at) OVER by_patient AS previous_occurred_at,
       lag(reporter_id) OVER by_patient AS previous_reporter_id,
       lag(unit_id) OVER by_patient AS previous_unit_id,
       lag(severity) OVER by_patient AS previous_severity,
       floor(extract(epoch FROM now() - occurred_at) / (90 * 86400))::integer AS period
FROM bench_incident
WHERE patient_id IS NOT NULL
WINDOW by_patient AS (PARTITION BY patient_id ORDER BY occurred_at, id),
       repeat_window AS (PARTITION BY patient_id ORDER BY occurred_at
                         RANGE BETWEEN interval '90 days' PRECEDING AND CURRENT ROW),
       staff_window AS (PARTITION BY patient_id ORDER BY occurred_at
                        RANGE BETWEEN interval '30 days' PRECEDING AND CURRENT ROW);

-- Rule codes: 1 high severity, 2 repeat patient, 3 several staff, 4 escalation. The
-- subject is the patient, or minus the incident for a high-severity incident about no
-- patient (an alert of its own).
CREATE TEMP TABLE bench_match AS
SELECT 1 AS rule, patient_id AS subject, period, id AS incident_id, occurred_at,
       reporter_id, unit_id, severity
FROM bench_history WHERE severity = 3
UNION ALL
SELECT 2, patient_id, period, id, occurred_at, reporter_id, unit_id, severity
FROM bench_history WHERE repeat_count >= 3
UNION ALL
SELECT 3, patient_id, period, id, occurred_at, reporter_id, unit_id, severity
FROM bench_history WHERE several_staff
UNION ALL
SELECT 4, patient_id, period, id, occurred_at, reporter_id, unit_id, severity
FROM bench_history WHERE severity > previous_severity
UNION ALL
SELECT 4, patient_id, period, previous_id, previous_occurred_at, previous_reporter_id,
       previous_unit_id, previous_severity
FROM bench_history WHERE severity > previous_severity
UNION ALL
SELECT 1, -id, floor(extract(epoch FROM now() - occurred_at) / (90 * 86400))::integer,
       id, occurred_at, reporter_id, unit_id, severity
FROM bench_incident WHERE patient_id IS NULL AND severity = 3;
DROP TABLE bench_history, bench_incident;
ANALYZE bench_match;

-- step: alerts
-- One alert per rule, subject and period. Only the current period's alerts whose last
-- match is recent are still open or acknowledged; everything earlier was resolved.
CREATE TEMP TABLE bench_alert AS
SELECT row_number() OVER (ORDER BY min(occurred_at), rule, subject)
           + coalesce((SELECT max(id) FROM incidents_alert), 0) AS id,
       rule, subject, period,
       count(DISTINCT incident_id) AS incident_count,
       count(DISTINCT reporter_id) AS staff_count,
       min(occurred_at) AS span_start,
       max(occurred_at) AS span_end,
       max(severity) AS severity
FROM bench_match
GROUP BY rule, subject, period;
ALTER TABLE bench_alert ADD COLUMN resolved boolean;
UPDATE bench_alert SET resolved = period > 0 OR span_end < now() - interval '30 days';
ANALYZE bench_alert;

INSERT INTO incidents_alert (
    id, public_id, rule, pattern_key, status, opened_at, last_matched_at, incident_count,
    staff_count, span_start, span_end, severity, acknowledged_at, acknowledgement_note,
    acknowledgement_action, resolved_at, resolution_note, acknowledged_by_id, patient_id,
    resolved_by_id
)
SELECT a.id, gen_random_uuid(), rule.name,
       rule.name || CASE WHEN a.subject > 0 THEN ':patient:' || a.subject
                         ELSE ':incident:' || -a.subject END,
       CASE WHEN a.resolved THEN 'resolved'
            WHEN pg_temp.u(a.id, 60) < 0.35 THEN 'acknowledged'
            ELSE 'open' END,
       least(a.span_start + interval '5 minutes', now()),
       least(a.span_end + interval '5 minutes', now()),
       a.incident_count, a.staff_count, a.span_start, a.span_end, a.severity,
       CASE WHEN a.resolved OR pg_temp.u(a.id, 60) < 0.35
            THEN least(a.span_end + interval '1 day', now()) END,
       '',
       CASE WHEN a.resolved OR pg_temp.u(a.id, 60) < 0.35
            THEN 'Spoke with the patient' ELSE '' END,
       CASE WHEN a.resolved THEN least(a.span_end + interval '10 days', now()) END,
       CASE WHEN a.resolved THEN 'No further incidents; closed at the monthly review.'
            ELSE '' END,
       CASE WHEN a.resolved OR pg_temp.u(a.id, 60) < 0.35 THEN sup.id END,
       CASE WHEN a.subject > 0 THEN a.subject END,
       CASE WHEN a.resolved THEN sup.id END
FROM bench_alert a
JOIN (VALUES (1, 'high_severity'), (2, 'repeat_patient'), (3, 'several_staff'),
             (4, 'escalation')) AS rule (code, name) ON rule.code = a.rule
JOIN bench_supervisor sup ON sup.unit_idx = mod(a.id, %(units)s) AND sup.k = 0;
SELECT setval(pg_get_serial_sequence('incidents_alert', 'id'),
              greatest((SELECT max(id) FROM incidents_alert), 1));

-- step: alert links
INSERT INTO incidents_alertincident (alert_id, incident_id, unit_id, added_at)
SELECT DISTINCT ON (a.id, m.incident_id)
       a.id, m.incident_id, m.unit_id, least(m.occurred_at + interval '5 minutes', now())
FROM bench_match m
JOIN bench_alert a ON a.rule = m.rule AND a.subject = m.subject AND a.period = m.period;
DROP TABLE bench_match, bench_alert;

-- step: script uses
-- The library's running counts of each script's use per unit, as filing keeps them.
INSERT INTO scripts_library_scriptuse (script_id, unit_id, used, accepted, asked_again, escalated)
SELECT v.script_id, i.unit_id, count(*),
       count(*) FILTER (WHERE i.person_response = 'accepted'),
       count(*) FILTER (WHERE i.person_response = 'asked_again'),
       count(*) FILTER (WHERE i.person_response = 'escalated')
FROM incidents_incident i
JOIN scripts_library_scriptversion v ON v.id = i.script_version_id
GROUP BY v.script_id, i.unit_id;

-- step: indexes
DO $$
DECLARE statement text;
BEGIN
    FOR statement IN SELECT create_sql FROM bench_saved_ddl WHERE kind = 'index'
                     ORDER BY position LOOP
        EXECUTE statement;
    END LOOP;
END $$;

-- step: foreign keys
DO $$
DECLARE statement text;
BEGIN
    FOR statement IN SELECT create_sql FROM bench_saved_ddl WHERE kind = 'foreign key'
                     ORDER BY position LOOP
        EXECUTE statement;
    END LOOP;
END $$;
