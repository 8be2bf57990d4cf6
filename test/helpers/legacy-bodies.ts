/**
 * Legacy request bodies exactly as the original APIs' documentation writes them
 * (/work/shared/seeds and its reference notes): the integration tests send them verbatim and the
 * OpenAPI test validates them against /openapi.json, so the document describes what clients send.
 */

/** myKaarma's "send Notification without single customer context" example, verbatim (placeholders included). */
export const DEPARTMENT_NOTIFY_DOC_BODY = {
  "messageAttributes": {
    "body": "string",
    "type": "DRAFT",
    "protocol": "TEXT",
    "purpose": "F",
    "isManual": true,
    "subject": "string",
    "metaData": {},
    "tags": [
      "TRASH"
    ],
    "draftAttributes": {
      "draftStatus": "SCHEDULED",
      "scheduledOn": "string",
      "draftFailureReason": "MDL_EVENT_UNDER_TIME_LIMIT_REASON"
    },
    "attachments": [
      {
        "fileURL": "string",
        "attachmentExtension": "string",
        "mimeType": "string",
        "originalFileName": "string",
        "docSize": "string",
        "thumbnailURL": "string",
        "mediaPreviewURL": "string"
      }
    ],
    "defaultReplyAction": "string",
    "updateThreadTimestamp": true,
    "updateTotalMessageCount": true,
    "showInCustomerConversation": true,
    "messageTags": [
      {
        "tagTypeUuid": "string",
        "referenceIdentifier": "string",
        "value": {},
        "primaryAttribute": {
          "value": "string"
        },
        "secondaryAttributes": [
          {
            "value": "string"
          }
        ],
        "parentTags": [
          {
            "tagTypeUuid": "string",
            "referenceIdentifier": "string"
          }
        ]
      }
    ]
  },
  "notificationAttributes": {
    "internalSubscribersNotifierPop": true,
    "externalSubscribersNotifierPop": true,
    "threadOwnerNotifierPop": true,
    "sendPhoneNotification": true,
    "additionalNotifierNotificationDAUUIDs": [
      "string"
    ],
    "notificationButtons": [
      {
        "buttonTextTranslationWidgetKey": "string",
        "buttonTextTranslationKey": "string",
        "buttonDefaultText": "string",
        "buttonTheme": "PRIMARY",
        "buttonActionEventData": {},
        "isPrimaryButton": true
      }
    ],
    "bodyTagsForSpecialRendering": {}
  },
  "messageSendingAttributesLite": {
    "delay": 0,
    "sendSynchronously": true,
    "callBackUrl": "string",
    "callBackMetadata": {}
  }
};

/**
 * Notifuse's messages.send envelope with the documented fields; the second message lacks the
 * required userId (Notifuse answers one result per message).
 */
export const NOTIFUSE_SEND_WITHOUT_USER_ID = {
  messages: [
    { notificationId: 'legacy-welcome', userId: 'notifuse-8', data: { count: 1 }, userLanguage: 'en', userTimezone: 'Europe/London', userCountry: 'GB' },
    { notificationId: 'legacy-welcome', data: { count: 2 } },
  ],
};

/** Notifuse's users.upsert item, with the telephone in the documentation's own format. */
export const NOTIFUSE_UPSERT_DOC_USER = {
  users: [{ id: 'notifuse-phone', firstName: 'John', lastName: 'Doe', email: 'john@doe.com', telephone: '+44 7911 123456', language: 'en', timezone: 'Europe/London', country: 'GB' }],
};

/** A Firebase Cloud Messaging style body (legacy HTTP API), as a Neucron client built on FCM sends it. */
export const NEUCRON_FCM_BODY = {
  user_ids: ['neu-fcm'],
  notification: { title: 'Order shipped', body: 'Your order A-17 is on its way' },
  data: { order: 'A-17' },
};

/** A Go client marshalling an exported struct without json tags: PascalCase keys. */
export const NEUCRON_GO_BODY = { Title: 'Maintenance', Body: 'Back at 10:00', UserIDs: ['neu-go'], Data: { ticket: '7' } };
