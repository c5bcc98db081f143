"""xAPI out: statements for runtime events, an outbox written in the event's transaction, and delivery.

Data flows one way: the runtime builds statements (:mod:`.statements`) and enqueues them in the same
transaction as the event (:mod:`.outbox`); ``localmooc lrs push`` (:mod:`.delivery`) sends them to an LRS.
"""
