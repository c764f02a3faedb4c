-- Indexes for polls that mostly only prove a device alive (issue 20).

-- Every such poll moves last_seen: an index on last_seen alone was rewritten by each one (an entry
-- out, an entry in) for the sake of `seen_within` listings, which devices_channel_last_seen
-- (board, channel, last_seen, from migration 002) serves just as well, one range per board/channel.
DROP INDEX IF EXISTS devices_last_seen;

-- A page of the devices on one version walks (board, channel, version) in device order, so a rare
-- version's page reads its own devices and no more, without sorting them. It serves everything
-- devices_version (board, channel, version, sequence) served, which it replaces: one index fewer
-- for each new device and each version change to keep.
CREATE INDEX devices_version_device ON devices (board, channel, version, device);
DROP INDEX IF EXISTS devices_version;
