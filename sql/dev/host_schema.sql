-- DEV/TEST ONLY: the host application's tables, as far as the service reads them
-- (HOST-CONTRACT.md). In production these belong to the host and already exist.
CREATE TABLE IF NOT EXISTS user (
    id            BIGINT AUTO_INCREMENT PRIMARY KEY,
    userAccount   VARCHAR(256) NOT NULL,
    userPassword  VARCHAR(512) NOT NULL DEFAULT '',
    userName      VARCHAR(256) NULL,
    userAvatar    VARCHAR(1024) NULL,
    userProfile   VARCHAR(512) NULL,
    userRole      VARCHAR(256) NOT NULL DEFAULT 'user',
    createTime    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updateTime    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    isDelete      TINYINT NOT NULL DEFAULT 0,
    UNIQUE KEY uk_userAccount (userAccount)
);

CREATE TABLE IF NOT EXISTS space (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    spaceName   VARCHAR(128) NULL,
    spaceLevel  INT NOT NULL DEFAULT 0,
    spaceType   TINYINT NOT NULL DEFAULT 0 COMMENT '0 private, 1 team',
    userId      BIGINT NOT NULL COMMENT 'creator',
    createTime  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updateTime  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    isDelete    TINYINT NOT NULL DEFAULT 0,
    INDEX idx_userId (userId)
);

CREATE TABLE IF NOT EXISTS space_user (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    spaceId     BIGINT NOT NULL,
    userId      BIGINT NOT NULL,
    spaceRole   VARCHAR(128) NOT NULL DEFAULT 'viewer' COMMENT 'viewer/editor/admin',
    createTime  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updateTime  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    UNIQUE KEY uk_spaceId_userId (spaceId, userId)
);

CREATE TABLE IF NOT EXISTS picture (
    id           BIGINT AUTO_INCREMENT PRIMARY KEY,
    url          VARCHAR(512) NOT NULL,
    thumbnailUrl VARCHAR(512) NULL,
    name         VARCHAR(128) NOT NULL DEFAULT '',
    introduction VARCHAR(512) NULL,
    category     VARCHAR(64) NULL,
    picWidth     INT NULL,
    picHeight    INT NULL,
    userId       BIGINT NOT NULL,
    spaceId      BIGINT NULL COMMENT 'NULL = public gallery',
    reviewStatus INT NOT NULL DEFAULT 0,
    createTime   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    editTime     DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updateTime   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    isDelete     TINYINT NOT NULL DEFAULT 0,
    INDEX idx_userId (userId),
    INDEX idx_spaceId (spaceId)
);
