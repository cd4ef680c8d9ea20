-- The original design's table (HOST-CONTRACT.md), created only when it does not exist yet:
-- a deployment that ran the Java design keeps its table and rows.
CREATE TABLE IF NOT EXISTS out_painting_task (
    id             BIGINT AUTO_INCREMENT PRIMARY KEY COMMENT 'id',
    taskId         VARCHAR(128)  NOT NULL COMMENT 'DashScope task id',
    pictureId      BIGINT        NOT NULL COMMENT 'picture id',
    userId         BIGINT        NOT NULL COMMENT 'creator user id',
    taskStatus     VARCHAR(32)   NOT NULL DEFAULT 'PENDING' COMMENT 'PENDING/RUNNING/SUSPENDED/SUCCEEDED/FAILED/CANCELED/UNKNOWN',
    outputImageUrl VARCHAR(1024) NULL COMMENT 'result image url (valid 24 h)',
    errorMessage   VARCHAR(1024) NULL COMMENT 'DashScope error message',
    retryCount     INT           NOT NULL DEFAULT 0 COMMENT 'status checks made',
    createTime     DATETIME      NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'create time',
    updateTime     DATETIME      NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'update time',
    isDelete       TINYINT       NOT NULL DEFAULT 0 COMMENT 'logical delete',
    UNIQUE KEY uk_taskId (taskId),
    INDEX idx_pictureId (pictureId),
    INDEX idx_userId (userId)
) COMMENT 'out-painting tasks';
