import { graphql } from '../../generated/gql/index.ts';

/**
 * Every operation the console sends. They are typed by codegen (this is a .ts file, so the
 * documents glob finds it) and swapped for their printed generated documents at build time
 * (scripts/typed-documents.ts), so the bundle carries these documents only, as request text.
 */

export const ConsoleSignIn = graphql(`
  query ConsoleSignIn {
    project {
      id
      name
    }
  }
`);

export const ConsoleMessageFields = graphql(`
  fragment ConsoleMessageFields on Message {
    id
    channel
    status
    attempts
    maxAttempts
    notificationId
    userId
    to
    provider
    providerMessageId
    lastError
    createdAt
    sentAt
    deliveredAt
    scheduledAt
    source
  }
`);

export const ConsoleMessages = graphql(`
  query ConsoleMessages($last: Int!, $before: String, $filter: MessageFilter) {
    messages(last: $last, before: $before, filter: $filter) {
      totalCount
      pageInfo {
        hasPreviousPage
        startCursor
      }
      edges {
        node {
          ...ConsoleMessageFields
        }
      }
    }
  }
`);

export const ConsoleMessage = graphql(`
  query ConsoleMessage($id: ID!) {
    message(id: $id) {
      ...ConsoleMessageFields
      requestId
      clientMessageId
      content
      events {
        status
        attempt
        error
        provider
        at
      }
    }
  }
`);

export const ConsoleMessageStatus = graphql(`
  subscription ConsoleMessageStatus($notificationId: Int, $userId: ID) {
    messageStatus(notificationId: $notificationId, userId: $userId) {
      messageId
      status
      channel
      attempt
      error
      at
      userId
      notificationId
    }
  }
`);

export const ConsoleRetryMessage = graphql(`
  mutation ConsoleRetryMessage($id: ID!) {
    retryMessage(id: $id) {
      ...ConsoleMessageFields
    }
  }
`);

export const ConsoleRetryFailed = graphql(`
  mutation ConsoleRetryFailed($channel: String, $notificationId: Int) {
    retryFailed(channel: $channel, notificationId: $notificationId)
  }
`);

export const ConsoleNotifications = graphql(`
  query ConsoleNotifications {
    notifications(first: 100) {
      totalCount
      edges {
        node {
          id
          key
          name
          type
          active
          channels
          defaultLanguage
        }
      }
    }
  }
`);

export const ConsoleNotification = graphql(`
  query ConsoleNotification($id: Int!) {
    notification(id: $id) {
      id
      key
      name
      type
      active
      channels
      defaultLanguage
      workflow {
        kind
        channel
        seconds
        until
        key
        windowSeconds
        limit
        maxEvents
      }
      versions {
        id
        label
        master
        updatedAt
        redirection
        channel
        scripting
        extra
        contents {
          locale
          title
          body
          icon
          thumbnail
          image
          email {
            subject
            html
            text
          }
          sms {
            text
          }
          whatsapp {
            text
            templateName
            templateLanguage
            parameters
          }
        }
      }
    }
  }
`);

export const ConsoleRender = graphql(`
  query ConsoleRender($id: Int!, $versionId: ID, $contact: ContactInput, $locale: String, $data: JSONObject, $draft: [LocaleContentInput!]) {
    renderNotification(id: $id, versionId: $versionId, contact: $contact, locale: $locale, data: $data, draft: $draft) {
      contact {
        externalId
      }
      render {
        locale
        title
        body
        email {
          subject
          html
          text
        }
        sms {
          text
        }
      }
    }
  }
`);

export const ConsoleUpdateVersion = graphql(`
  mutation ConsoleUpdateVersion($notificationId: Int!, $versionId: ID!, $input: NotificationVersionInput!) {
    updateNotificationVersion(notificationId: $notificationId, versionId: $versionId, input: $input) {
      id
      updatedAt
    }
  }
`);

export const ConsoleCreateVersion = graphql(`
  mutation ConsoleCreateVersion($notificationId: Int!, $input: NotificationVersionInput!) {
    createNotificationVersion(notificationId: $notificationId, input: $input) {
      id
    }
  }
`);

export const ConsoleSetMaster = graphql(`
  mutation ConsoleSetMaster($notificationId: Int!, $versionId: ID!) {
    setMasterVersion(notificationId: $notificationId, versionId: $versionId) {
      id
      master
    }
  }
`);

export const ConsoleUsers = graphql(`
  query ConsoleUsers($filter: UserFilter) {
    users(last: 50, filter: $filter) {
      totalCount
      edges {
        node {
          id
          externalId
          email
          firstName
          lastName
        }
      }
    }
  }
`);

export const ConsoleUser = graphql(`
  query ConsoleUser($id: ID!) {
    user(id: $id) {
      id
      externalId
      email
      telephone
      firstName
      lastName
      language
      country
      timezone
      custom
      createdAt
      updatedAt
      unreadCount
      preferences {
        channels
        categories
        notifications
      }
      inbox(first: 20) {
        id
        title
        body
        category
        createdAt
        readAt
        seenAt
      }
    }
  }
`);

export const ConsoleSetPreferences = graphql(`
  mutation ConsoleSetPreferences($userId: ID!, $preferences: PreferencesInput!) {
    setUserPreferences(userId: $userId, preferences: $preferences) {
      channels
      categories
      notifications
    }
  }
`);

export const ConsoleProviders = graphql(`
  query ConsoleProviders {
    providers {
      id
      channel
      kind
      name
      priority
      enabled
      hasSecrets
      settings
      createdAt
    }
  }
`);

export const ConsoleConfigureProvider = graphql(`
  mutation ConsoleConfigureProvider($input: ProviderInput!) {
    configureProvider(input: $input) {
      id
    }
  }
`);

export const ConsoleDeleteProvider = graphql(`
  mutation ConsoleDeleteProvider($id: ID!) {
    deleteProvider(id: $id)
  }
`);

export const ConsoleTestSend = graphql(`
  mutation ConsoleTestSend($messages: [SendMessageInput!]!) {
    sendMessages(messages: $messages) {
      ok
      error
      emailError
      smsError
      messages {
        id
        channel
        status
      }
    }
  }
`);

export const ConsoleKeys = graphql(`
  query ConsoleKeys {
    project {
      id
      apiKeys(includeRevoked: true) {
        id
        name
        active
        createdAt
        revokedAt
      }
    }
  }
`);

export const ConsoleCreateKey = graphql(`
  mutation ConsoleCreateKey($name: String!) {
    createApiKey(name: $name) {
      apiKey
      key {
        id
        name
      }
    }
  }
`);

export const ConsoleRevokeKey = graphql(`
  mutation ConsoleRevokeKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
      active
      revokedAt
    }
  }
`);

export const ConsoleUserId = graphql(`
  query ConsoleUserId($id: ID, $externalId: String) {
    user(id: $id, externalId: $externalId) {
      id
    }
  }
`);

export const ConsoleWorkflowRuns = graphql(`
  query ConsoleWorkflowRuns($first: Int!, $after: String, $filter: WorkflowRunFilter) {
    workflowRuns(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          status
          notificationId
          userId
          transactionId
          reason
          cursor
          createdAt
          finishedAt
        }
      }
    }
  }
`);

export const ConsoleWorkflowRun = graphql(`
  query ConsoleWorkflowRun($id: ID!) {
    workflowRun(id: $id) {
      id
      status
      notificationId
      userId
      transactionId
      source
      reason
      cursor
      dueAt
      data
      createdAt
      finishedAt
      steps {
        index
        kind
        status
        reason
        startedAt
        finishedAt
        resumeAt
        messages {
          id
          status
          channel
        }
        digest {
          id
          key
          count
          closedAt
        }
      }
    }
  }
`);

export const ConsoleWorkflowRunEvents = graphql(`
  subscription ConsoleWorkflowRunEvents($id: ID!) {
    workflowRun(id: $id) {
      runId
      index
      status
      at
    }
  }
`);

export const ConsoleCancelWorkflowRuns = graphql(`
  mutation ConsoleCancelWorkflowRuns($transactionId: String!) {
    cancelWorkflowRuns(transactionId: $transactionId)
  }
`);

export const ConsoleTopics = graphql(`
  query ConsoleTopics {
    topics(first: 200) {
      totalCount
      edges {
        node {
          id
          key
          name
          subscriberCount
          createdAt
        }
      }
    }
  }
`);

export const ConsoleTopic = graphql(`
  query ConsoleTopic($key: String!, $first: Int!, $after: String) {
    topic(key: $key) {
      id
      key
      name
      createdAt
      subscribers(first: $first, after: $after) {
        totalCount
        pageInfo {
          hasNextPage
          endCursor
        }
        edges {
          node {
            id
            externalId
            email
            firstName
            lastName
          }
        }
      }
    }
  }
`);

export const ConsoleCreateTopic = graphql(`
  mutation ConsoleCreateTopic($key: String!, $name: String) {
    createTopic(key: $key, name: $name) {
      id
      key
    }
  }
`);

export const ConsoleAddSubscribers = graphql(`
  mutation ConsoleAddSubscribers($key: String!, $userIds: [String!]!) {
    addTopicSubscribers(key: $key, userIds: $userIds) {
      count
    }
  }
`);

export const ConsoleRemoveSubscribers = graphql(`
  mutation ConsoleRemoveSubscribers($key: String!, $userIds: [String!]!) {
    removeTopicSubscribers(key: $key, userIds: $userIds) {
      count
    }
  }
`);

export const ConsoleBroadcastFields = graphql(`
  fragment ConsoleBroadcastFields on Broadcast {
    id
    transactionId
    topicKey
    notificationId
    status
    total
    processed
    delivered
    skipped
    failed
    lastError
    createdAt
    finishedAt
  }
`);

export const ConsoleBroadcasts = graphql(`
  query ConsoleBroadcasts($first: Int!, $after: String, $filter: BroadcastFilter) {
    broadcasts(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          ...ConsoleBroadcastFields
        }
      }
    }
  }
`);

export const ConsoleBroadcastProgress = graphql(`
  subscription ConsoleBroadcastProgress($id: ID!) {
    broadcast(id: $id) {
      ...ConsoleBroadcastFields
    }
  }
`);

export const ConsoleCancelBroadcast = graphql(`
  mutation ConsoleCancelBroadcast($id: ID!) {
    cancelBroadcast(id: $id) {
      ...ConsoleBroadcastFields
    }
  }
`);
