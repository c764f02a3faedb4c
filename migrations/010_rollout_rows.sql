-- Every release with a binary has its rollout row: publishing writes both in one transaction from
-- now on. A release recorded by an earlier version that stopped between the two writes gets the
-- row it would have had then: everyone, active.
INSERT INTO rollouts (release_id, board, channel, percent, state, started_at, updated_at)
SELECT id, board, channel, 100, 'active', created_at, created_at FROM releases r
WHERE sha256 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollouts ro WHERE ro.release_id = r.id);
