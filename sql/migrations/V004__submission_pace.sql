-- Issue "benchmarks" (W2): DashScope allows an account 2 task submissions per second. Every
-- FcgiApp worker of every instance reserves its submission time here, one after the other, so
-- the account's submissions are spaced out instead of answered 429. Idempotent.
CREATE TABLE IF NOT EXISTS outpainting_submission_pace (
    paceKey              VARCHAR(64) NOT NULL PRIMARY KEY COMMENT 'hash of the DashScope API key (never the key itself)',
    submissionsPerSecond DOUBLE      NOT NULL COMMENT 'the account''s submission quota; set from DASHSCOPE_CREATE_QPS on first use, then authoritative (change it here, live; 0 = no pacing)',
    nextSlotAt           DATETIME(6) NOT NULL COMMENT 'the earliest time the next submission may be sent'
) COMMENT 'shared schedule of DashScope task submissions';
