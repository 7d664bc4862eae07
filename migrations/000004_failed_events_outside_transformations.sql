-- An event can fail in the processor outside any transformation: the database refused its output
-- (say, an id holding U+0000 written by an older gateway), or the processor itself failed on it.
-- Such an event is recorded like one a transformation failed on, without a transformation.
ALTER TABLE failed_events ALTER COLUMN transformation_id DROP NOT NULL;
