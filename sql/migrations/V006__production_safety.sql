-- Issue "safe on a real host". Idempotent like V002; nothing of the original table is changed.
-- UNKNOWN is not final on first sight: when DashScope first answered UNKNOWN for the task (cleared
-- by any other answer); the task becomes UNKNOWN only after UNKNOWN_CONFIRM_S of it.
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN unknownSince DATETIME(3) NULL COMMENT ''when DashScope first answered UNKNOWN (not final until confirmed)''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'unknownSince');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
-- Every paid task is stored and paid once: the intent is a row before DashScope is asked
-- (taskStatus SUBMITTING, a placeholder taskId); submittedAt is when the create went out (our
-- clock), which lets a Poller find the task in DashScope's list when the answer was lost;
-- submissionOutcome 'unclear' marks a task found that way (a retry gets it).
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN submittedAt DATETIME(3) NULL COMMENT ''when the create went to DashScope (our clock)''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'submittedAt');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD COLUMN submissionOutcome VARCHAR(16) NULL COMMENT ''unclear: the create answer was lost and the task was found in the list of DashScope''', 'DO 0')
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'submissionOutcome');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE out_painting_task ADD INDEX idx_submittedAt (submittedAt)', 'DO 0')
             FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND INDEX_NAME = 'idx_submittedAt');
PREPARE migration_step FROM @ddl;
EXECUTE migration_step;
DEALLOCATE PREPARE migration_step;
