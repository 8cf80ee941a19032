"""The hiring domain's tables. Import models from here."""

from hiring_jobs.models.access import Account, AccountRole, ApiToken, LoginThrottle, TokenScope
from hiring_jobs.models.achievements import Achievement, AchievementUnlock
from hiring_jobs.models.analytics import AnalyticsSnapshot, RecommendationCache, RecommendationKind
from hiring_jobs.models.auth import AuthToken, TokenPurpose
from hiring_jobs.models.base import Base
from hiring_jobs.models.control import JobProgress, PeriodicSetting, QueueSetting
from hiring_jobs.models.email import DeliveryStatus, EmailDelivery
from hiring_jobs.models.files import FileKind, StoredFile
from hiring_jobs.models.learning import (
    Course,
    CourseEnrollment,
    MentoringSession,
    MentoringStatus,
    QuizAttempt,
)
from hiring_jobs.models.notifications import Notification
from hiring_jobs.models.operator import AlertIncident, AlertKind, AlertRule, WorkerProcess
from hiring_jobs.models.postings import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    JobPosting,
    PostingStatus,
)
from hiring_jobs.models.privacy import ErasureRecord, JobPayload, PendingFileDeletion
from hiring_jobs.models.queue import (
    AttemptOutcome,
    AuditLogEntry,
    DeadLetterCount,
    DeadLetterRecord,
    DeadLetterReview,
    HealthCheck,
    JobAttempt,
    JobGroup,
    JobGroupMember,
    KeyLimit,
    RateLimitBucket,
    ReviewAction,
    TaskKey,
    ThroughputMinute,
)
from hiring_jobs.models.resumes import ParseStatus, Resume
from hiring_jobs.models.users import (
    ActivityEvent,
    Connection,
    SkillSource,
    User,
    UserRole,
    UserSkill,
)

__all__ = [
    "Account",
    "AccountRole",
    "Achievement",
    "AchievementUnlock",
    "ActivityEvent",
    "AlertIncident",
    "AlertKind",
    "AlertRule",
    "AnalyticsSnapshot",
    "ApiToken",
    "Application",
    "ApplicationStatus",
    "ApplicationStatusChange",
    "AttemptOutcome",
    "AuditLogEntry",
    "AuthToken",
    "Base",
    "Connection",
    "Course",
    "CourseEnrollment",
    "DeadLetterCount",
    "DeadLetterRecord",
    "DeadLetterReview",
    "DeliveryStatus",
    "EmailDelivery",
    "ErasureRecord",
    "FileKind",
    "HealthCheck",
    "JobAttempt",
    "JobGroup",
    "JobGroupMember",
    "JobPayload",
    "JobPosting",
    "JobProgress",
    "KeyLimit",
    "LoginThrottle",
    "MentoringSession",
    "MentoringStatus",
    "Notification",
    "ParseStatus",
    "PendingFileDeletion",
    "PeriodicSetting",
    "PostingStatus",
    "QueueSetting",
    "QuizAttempt",
    "RateLimitBucket",
    "RecommendationCache",
    "RecommendationKind",
    "Resume",
    "ReviewAction",
    "SkillSource",
    "StoredFile",
    "TaskKey",
    "ThroughputMinute",
    "TokenPurpose",
    "TokenScope",
    "User",
    "UserRole",
    "UserSkill",
    "WorkerProcess",
]
