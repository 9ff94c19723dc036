-- The queue report's rollup (central/queue_rollup.py), kept at ingest in the batch's transaction.
--
-- queue_daily  one row per hall, day, window, clerk, business and department of the tickets (the
--              ticket's issue day, the window and clerk that last called it; '' where none):
--              counts, the wait and service sums, the called tickets' waits sorted (`waits`, for
--              the exact p90) and their histogram over central/queue_rollup.py's EDGES (h0…h30:
--              h<i> counts the waits w with EDGES[i-1] <= w < EDGES[i], i.e. width_bucket(w, EDGES) = i).
--
-- over_yellow/over_red count with the hall's lines now; new lines in a hall's profile recount them
-- (central/ingest.py), as the hall's own report counts with its lines now.
-- Built here from the tickets already stored (a store that ran before this migration): about 5 s
-- per million tickets.
-- EDGES: {120,240,360,480,600,720,840,960,1080,1200,1320,1440,1560,1680,1800,2100,2400,2700,3000,3300,3600,4500,5400,6300,7200,10800,14400,21600,43200,86400}

CREATE TABLE queue_daily (
    hall        text NOT NULL,
    day         date NOT NULL,
    "window"    text NOT NULL,
    clerk       text NOT NULL,
    business    text NOT NULL,
    dept        text NOT NULL,
    issued      integer NOT NULL DEFAULT 0,
    done        integer NOT NULL DEFAULT 0,
    skipped     integer NOT NULL DEFAULT 0,
    cancelled   integer NOT NULL DEFAULT 0,
    left_over   integer NOT NULL DEFAULT 0,
    called      integer NOT NULL DEFAULT 0,
    wait_sum    double precision NOT NULL DEFAULT 0,
    service_sum double precision NOT NULL DEFAULT 0,
    over_yellow integer NOT NULL DEFAULT 0,  -- waits >= the hall's yellow line (halls.yellow_s, as it is now)
    over_red    integer NOT NULL DEFAULT 0,
    h0          integer NOT NULL DEFAULT 0,
    h1          integer NOT NULL DEFAULT 0,
    h2          integer NOT NULL DEFAULT 0,
    h3          integer NOT NULL DEFAULT 0,
    h4          integer NOT NULL DEFAULT 0,
    h5          integer NOT NULL DEFAULT 0,
    h6          integer NOT NULL DEFAULT 0,
    h7          integer NOT NULL DEFAULT 0,
    h8          integer NOT NULL DEFAULT 0,
    h9          integer NOT NULL DEFAULT 0,
    h10         integer NOT NULL DEFAULT 0,
    h11         integer NOT NULL DEFAULT 0,
    h12         integer NOT NULL DEFAULT 0,
    h13         integer NOT NULL DEFAULT 0,
    h14         integer NOT NULL DEFAULT 0,
    h15         integer NOT NULL DEFAULT 0,
    h16         integer NOT NULL DEFAULT 0,
    h17         integer NOT NULL DEFAULT 0,
    h18         integer NOT NULL DEFAULT 0,
    h19         integer NOT NULL DEFAULT 0,
    h20         integer NOT NULL DEFAULT 0,
    h21         integer NOT NULL DEFAULT 0,
    h22         integer NOT NULL DEFAULT 0,
    h23         integer NOT NULL DEFAULT 0,
    h24         integer NOT NULL DEFAULT 0,
    h25         integer NOT NULL DEFAULT 0,
    h26         integer NOT NULL DEFAULT 0,
    h27         integer NOT NULL DEFAULT 0,
    h28         integer NOT NULL DEFAULT 0,
    h29         integer NOT NULL DEFAULT 0,
    h30         integer NOT NULL DEFAULT 0,
    waits       double precision[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (hall, day, "window", clerk, business, dept)
);
-- A day or a few (the /city page's today) by index; a year reads the table whole.
CREATE INDEX queue_daily_day ON queue_daily(day);

INSERT INTO queue_daily (hall, day, "window", clerk, business, dept, issued, done, skipped, cancelled, left_over,
                         called, wait_sum, service_sum, over_yellow, over_red, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23, h24, h25, h26, h27, h28, h29, h30, waits)
SELECT t.hall, t.day, coalesce(t."window", ''), coalesce(t.clerk, ''), t.business, coalesce(t.dept, ''),
       count(*), count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'skipped'),
       count(*) FILTER (WHERE status = 'cancelled'),
       count(*) FILTER (WHERE status = 'cancelled' AND cancel_reason = 'day_closed'), count(first_called_at),
       coalesce(sum(first_called_at - issued_at), 0), coalesce(sum(service_s) FILTER (WHERE status = 'done'), 0),
       count(*) FILTER (WHERE first_called_at - issued_at >= h.yellow_s),
       count(*) FILTER (WHERE first_called_at - issued_at >= h.red_s),
       count(*) FILTER (WHERE first_called_at IS NOT NULL AND (first_called_at - issued_at) < 120),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 120 AND (first_called_at - issued_at) < 240),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 240 AND (first_called_at - issued_at) < 360),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 360 AND (first_called_at - issued_at) < 480),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 480 AND (first_called_at - issued_at) < 600),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 600 AND (first_called_at - issued_at) < 720),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 720 AND (first_called_at - issued_at) < 840),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 840 AND (first_called_at - issued_at) < 960),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 960 AND (first_called_at - issued_at) < 1080),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 1080 AND (first_called_at - issued_at) < 1200),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 1200 AND (first_called_at - issued_at) < 1320),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 1320 AND (first_called_at - issued_at) < 1440),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 1440 AND (first_called_at - issued_at) < 1560),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 1560 AND (first_called_at - issued_at) < 1680),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 1680 AND (first_called_at - issued_at) < 1800),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 1800 AND (first_called_at - issued_at) < 2100),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 2100 AND (first_called_at - issued_at) < 2400),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 2400 AND (first_called_at - issued_at) < 2700),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 2700 AND (first_called_at - issued_at) < 3000),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 3000 AND (first_called_at - issued_at) < 3300),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 3300 AND (first_called_at - issued_at) < 3600),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 3600 AND (first_called_at - issued_at) < 4500),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 4500 AND (first_called_at - issued_at) < 5400),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 5400 AND (first_called_at - issued_at) < 6300),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 6300 AND (first_called_at - issued_at) < 7200),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 7200 AND (first_called_at - issued_at) < 10800),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 10800 AND (first_called_at - issued_at) < 14400),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 14400 AND (first_called_at - issued_at) < 21600),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 21600 AND (first_called_at - issued_at) < 43200),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 43200 AND (first_called_at - issued_at) < 86400),
       count(*) FILTER (WHERE (first_called_at - issued_at) >= 86400),
       coalesce(array_agg((first_called_at - issued_at) ORDER BY (first_called_at - issued_at)) FILTER (WHERE first_called_at IS NOT NULL), '{}')
FROM tickets t JOIN halls h ON h.id = t.hall
GROUP BY t.hall, t.day, coalesce(t."window", ''), coalesce(t.clerk, ''), t.business, coalesce(t.dept, '');
