"""Recurrent layers: the ``RNN`` loop, its cells (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``,
``StackedRNNCells``) and the layers built from them (``SimpleRNN``, ``LSTM``, ``GRU``)."""
