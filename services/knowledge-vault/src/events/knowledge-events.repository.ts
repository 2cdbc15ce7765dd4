import { BusPublisher } from '@heady/bus';
import {
  KNOWLEDGE_DROPPED_SUBJECT,
  KNOWLEDGE_STORED_SUBJECT,
  type KnowledgeDocumentEvent,
} from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';

/**
 * Announces vault changes on KNOWLEDGE (`knowledge.document.stored|dropped`), signed like
 * every message, for internal subscribers. The msg id names the document and its content
 * hash, so a retried announcement within the duplicate window is dropped by JetStream.
 */
@Injectable()
export class KnowledgeEventsRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async stored(e: KnowledgeDocumentEvent): Promise<void> {
    await this.bus.publish(
      KNOWLEDGE_STORED_SUBJECT,
      { json: e },
      {
        msgId: `knowledge:${e.documentId}:stored:${e.contentHash ?? ''}`,
        expectStream: 'KNOWLEDGE',
      },
    );
  }

  async dropped(e: KnowledgeDocumentEvent): Promise<void> {
    await this.bus.publish(
      KNOWLEDGE_DROPPED_SUBJECT,
      { json: e },
      { msgId: `knowledge:${e.documentId}:dropped`, expectStream: 'KNOWLEDGE' },
    );
  }
}
