"""What the components declare, as pure functions of the model: object bodies, chart values and the dataclasses they
take. Nothing here imports the Pulumi SDK, so checks/ and stacks/ read them on the way to the engine without it.
"""
