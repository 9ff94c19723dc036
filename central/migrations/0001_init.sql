-- The central store of a city's halls. Applied once, in order, by central/migrate.py.
--
-- events      every event each hall shipped, kept as it came (kinds the service does not know are
--             stored and never interpreted); (hall, seq) is the idempotence key. Partitioned by
--             the hall day's month: ~50 million rows a year for 100 halls.
-- tickets, cases, followups: the hall's own projections, per hall (what the reports and the
--             follow-up list read), kept in the transaction that stores the events.
-- review_daily, review_reasons: the review report's rollup per hall, day and key, maintained at
--             ingest by deltas (a later rating that replaces a time-out moves its count).
-- window_time: seconds per hall, day, window and kind (paused:<reason>, extended).

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE halls (
    id              text PRIMARY KEY,
    name            text NOT NULL DEFAULT '',
    profile         jsonb NOT NULL DEFAULT '{}',
    yellow_s        double precision NOT NULL DEFAULT 1800,
    red_s           double precision NOT NULL DEFAULT 2700,
    last_seq        bigint NOT NULL DEFAULT 0,
    last_event_at   double precision,
    last_shipped_at timestamptz,
    head_seq        bigint NOT NULL DEFAULT 0,
    events          bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    hash       text PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('hall', 'supervisor')),
    hall       text REFERENCES halls(id),
    label      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'hall') = (hall IS NOT NULL))
);
-- One live token per hall: a new one replaces (revokes) the old.
CREATE UNIQUE INDEX tokens_one_per_hall ON tokens(hall) WHERE role = 'hall' AND revoked_at IS NULL;

-- Page sign-ins (/city): a row per session, so signing out ends it on every instance.
CREATE TABLE sessions (
    id         text PRIMARY KEY,
    token_hash text NOT NULL,
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz
);

CREATE TABLE events (
    hall text NOT NULL,
    seq  bigint NOT NULL,
    day  date NOT NULL,
    at   double precision NOT NULL,
    kind text NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (hall, seq, day)
) PARTITION BY RANGE (day);

CREATE TABLE tickets (
    hall            text NOT NULL,
    ticket          text NOT NULL,
    day             date NOT NULL,
    serial          bigint,
    number          text NOT NULL DEFAULT '',
    business        text NOT NULL DEFAULT '',
    channel         text NOT NULL DEFAULT '',
    priority        text NOT NULL DEFAULT 'normal',
    issued_at       double precision NOT NULL,
    first_called_at double precision,
    started_at      double precision,
    finished_at     double precision,
    "window"        text,
    clerk           text,
    status          text NOT NULL,
    cancel_reason   text,
    wait_s          double precision,
    service_s       double precision,
    dept            text,
    PRIMARY KEY (hall, ticket)
);
CREATE INDEX tickets_day ON tickets(day, hall);

CREATE TABLE cases (
    hall      text NOT NULL,
    case_id   bigint NOT NULL,
    ticket    text NOT NULL,
    day       date NOT NULL,
    business  text NOT NULL,
    "window"  text NOT NULL,
    clerk     text,
    dept      text,
    state     text NOT NULL DEFAULT 'open',
    level     smallint,
    defaulted boolean NOT NULL DEFAULT false,
    reasons   integer NOT NULL DEFAULT 0,
    excluded  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (hall, case_id)
);
CREATE INDEX cases_ticket ON cases(hall, ticket);

CREATE TABLE review_daily (
    hall      text NOT NULL,
    day       date NOT NULL,
    "window"  text NOT NULL,
    clerk     text NOT NULL,   -- '' when no clerk was signed in
    business  text NOT NULL,
    dept      text NOT NULL,   -- '' when the case carries no department code
    served    integer NOT NULL DEFAULT 0,
    rated     integer NOT NULL DEFAULT 0,
    defaulted integer NOT NULL DEFAULT 0,
    excluded  integer NOT NULL DEFAULT 0,
    l1 integer NOT NULL DEFAULT 0,
    l2 integer NOT NULL DEFAULT 0,
    l3 integer NOT NULL DEFAULT 0,
    l4 integer NOT NULL DEFAULT 0,
    l5 integer NOT NULL DEFAULT 0,
    PRIMARY KEY (hall, day, "window", clerk, business, dept)
);
-- The city report reads a date range of every hall: day first.
CREATE INDEX review_daily_day ON review_daily(day) INCLUDE (hall, "window", clerk, business, dept, served, rated,
    defaulted, excluded, l1, l2, l3, l4, l5);

CREATE TABLE review_reasons (
    hall      text NOT NULL,
    day       date NOT NULL,
    "window"  text NOT NULL,
    clerk     text NOT NULL,
    business  text NOT NULL,
    dept      text NOT NULL,
    reason    text NOT NULL,   -- the hall's reason text; '' = a 差评 that named none
    n         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (hall, day, "window", clerk, business, dept, reason)
);
CREATE INDEX review_reasons_day ON review_reasons(day);

CREATE TABLE window_time (
    hall     text NOT NULL,
    day      date NOT NULL,
    "window" text NOT NULL,
    kind     text NOT NULL,     -- paused:<reason> | extended
    seconds  double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (hall, day, "window", kind)
);

CREATE TABLE window_state (
    hall        text NOT NULL,
    "window"    text NOT NULL,
    paused_at   double precision,
    pause_day   date,
    reason      text,
    PRIMARY KEY (hall, "window")
);

CREATE TABLE followups (
    hall           text NOT NULL,
    case_id        bigint NOT NULL,
    ticket         text NOT NULL,
    day            date NOT NULL,
    business       text NOT NULL,
    "window"       text NOT NULL,
    clerk          text,
    leader         text,
    level          smallint NOT NULL,
    reasons        integer NOT NULL DEFAULT 0,
    comment        text NOT NULL DEFAULT '',
    channel        text NOT NULL DEFAULT '',
    named          boolean NOT NULL DEFAULT false,
    opened_at      double precision NOT NULL,
    deadline       date NOT NULL,
    due_at         double precision NOT NULL,
    state          text NOT NULL,
    attempts       integer NOT NULL DEFAULT 0,
    contacted      boolean NOT NULL DEFAULT false,
    called_back_at double precision,
    rectified_at   double precision,
    closed_at      double precision,
    verdict        text,
    updated_at     double precision NOT NULL,
    PRIMARY KEY (hall, case_id)
);
CREATE INDEX followups_due ON followups(state, due_at);
