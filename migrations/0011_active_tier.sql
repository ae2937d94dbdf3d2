-- 0011_active_tier: the verifier's queue of recently active verified links.
--
-- On v3 the network cannot push identity updates, so the verifier re-checks the links of
-- recently active accounts (record indexed, or inbox log seen to grow, within
-- --active-window) every --reverify-active-after instead of every --reverify-after. When it
-- judges such a link verified it sets the link's not_before to the next active re-check;
-- dormant verified links keep not_before = 0 and are re-checked by age (links_verified_age).
-- The index holds only scheduled verified links, so it stays as small as the active set
-- and a round reads only the links that are due.

CREATE INDEX links_verified_due ON links (not_before, did) WHERE status = 0 AND not_before > 0;
